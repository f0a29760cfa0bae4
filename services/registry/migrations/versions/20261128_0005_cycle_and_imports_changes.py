"""cycle and imports changes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # imports: validation progress, and the index behind a unit's job list
    op.add_column(
        "import_job",
        sa.Column("validated", sa.Integer(), server_default="0", nullable=False),
        schema="registry",
    )
    op.create_index(
        "ix_import_job_scope_created_at",
        "import_job",
        ["created_by_role", "scope", "created_at"],
        unique=False,
        schema="registry",
    )


def downgrade() -> None:
    # imports
    op.drop_index("ix_import_job_scope_created_at", table_name="import_job", schema="registry")
    op.drop_column("import_job", "validated", schema="registry")
