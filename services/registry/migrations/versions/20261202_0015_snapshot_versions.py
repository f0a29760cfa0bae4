"""registry.product.updated / registry.entity.updated: one sequence numbers every snapshot

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02

A snapshot takes its ``version`` from this sequence while the row it describes is locked by the
write it reports, so a later snapshot of a record always carries a larger version (consumers keep
the largest). Products and entities share the sequence.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE registry.snapshot_version AS bigint")


def downgrade() -> None:
    op.execute("DROP SEQUENCE registry.snapshot_version")
