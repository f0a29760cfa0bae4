"""print downloads: who downloaded which batch's print file (or one stamp's QR), and when

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "stamps"
FORMATS = "('csv', 'zip', 'pdf', 'svg', 'png')"


def upgrade() -> None:
    op.create_table(
        "print_download",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("batch_id", sa.UUID(), nullable=False),
        sa.Column("serial", sa.String(length=18), nullable=True),
        sa.Column("format", sa.String(length=4), nullable=False),
        sa.Column("stamps", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("actor_role", sa.String(length=30), nullable=False),
        sa.Column(
            "created_at", postgresql.TIMESTAMP(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(f"format IN {FORMATS}", name=op.f("ck_print_download_format")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_print_download")),
        schema=SCHEMA,
    )
    op.create_index("ix_print_download_batch", "print_download", ["batch_id", "created_at"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("print_download", schema=SCHEMA)
