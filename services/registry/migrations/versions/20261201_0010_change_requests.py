"""change requests

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

What a producer may not change in place (a certified product's identity, its entity's legal name and
tax code) is asked for in a change request that an officer of the record's unit decides.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "change_request",
        sa.Column("resource", sa.String(length=10), nullable=False),
        sa.Column("resource_id", sa.UUID(), nullable=False),
        sa.Column("entity_id", sa.UUID(), nullable=False),
        sa.Column("commune_code", sa.String(length=10), nullable=False),
        sa.Column("province_code", sa.String(length=10), nullable=False),
        sa.Column("changes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("previous", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("requested_by", sa.String(length=120), nullable=False),
        sa.Column("requested_role", sa.String(length=30), nullable=False),
        sa.Column("decided_by", sa.String(length=120), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column(
            "created_at", postgresql.TIMESTAMP(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "updated_at", postgresql.TIMESTAMP(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint("resource IN ('product', 'entity')", name=op.f("ck_change_request_resource")),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected')", name=op.f("ck_change_request_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_request")),
        schema="registry",
    )
    op.create_index("ix_change_request_resource_id", "change_request", ["resource_id"], schema="registry")
    op.create_index("ix_change_request_commune_code", "change_request", ["commune_code"], schema="registry")
    op.create_index(
        op.f("ix_registry_change_request_entity_id"), "change_request", ["entity_id"], schema="registry"
    )


def downgrade() -> None:
    op.drop_table("change_request", schema="registry")
