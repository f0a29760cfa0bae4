"""stamp batches and stamps

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

No foreign key from stamp to stamp_batch: a million-stamp batch is written with COPY, and a
per-row referential check would cost a third of it; batches are never deleted.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH_STATUSES = "('requested', 'approved', 'rejected', 'generating', 'generated', 'failed')"
STAMP_STATES = "('reserved', 'issued', 'active', 'suspended', 'revoked', 'void')"


def upgrade() -> None:
    op.create_table(
        "stamp_batch",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("product_id", sa.UUID(), nullable=False),
        sa.Column("entity_id", sa.UUID(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("lot", sa.String(length=20), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("generated", sa.Integer(), nullable=False),
        sa.Column("generation_started_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("generation_finished_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("generation_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at", postgresql.TIMESTAMP(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "updated_at", postgresql.TIMESTAMP(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(f"status IN {BATCH_STATUSES}", name=op.f("ck_stamp_batch_status")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_stamp_batch_quantity")),
        sa.CheckConstraint("generated >= 0 AND generated <= quantity", name=op.f("ck_stamp_batch_generated")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stamp_batch")),
        schema="stamps",
    )
    op.create_index("ix_stamp_batch_entity", "stamp_batch", ["entity_id", "created_at"], schema="stamps")
    op.create_index("ix_stamp_batch_status", "stamp_batch", ["status", "created_at"], schema="stamps")
    op.create_table(
        "stamp",
        sa.Column("serial", sa.String(length=18), nullable=False),
        sa.Column("batch_id", sa.UUID(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("lot", sa.String(length=20), nullable=True),
        sa.Column("production_date", sa.Date(), nullable=True),
        sa.Column("expiry_date", sa.Date(), nullable=True),
        sa.Column(
            "state_changed_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(f"state IN {STAMP_STATES}", name=op.f("ck_stamp_state")),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_stamp")),
        schema="stamps",
    )
    op.create_index("ix_stamp_batch", "stamp", ["batch_id"], schema="stamps")


def downgrade() -> None:
    op.drop_table("stamp", schema="stamps")
    op.drop_table("stamp_batch", schema="stamps")
