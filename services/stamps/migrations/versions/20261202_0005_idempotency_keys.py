"""idempotency keys of the stamps service (creating POSTs retried safely)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

from shared.idempotency import create_idempotency_table

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_idempotency_table(op, "stamps")


def downgrade() -> None:
    op.drop_table("idempotency_key", schema="stamps")
