"""catalogue feed and partner webhooks

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03

What the catalogue last published of each product (so a write that changes nothing public emits no
registry.catalogue.* event), and partners' webhook subscriptions (their signing secrets sealed).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalogue_publication",
        sa.Column("product_id", sa.UUID(), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=True),
        sa.Column("in_catalogue", sa.Boolean(), nullable=False),
        sa.Column(
            "published_at", postgresql.TIMESTAMP(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["registry.product.id"], name=op.f("fk_catalogue_publication_product_id_product"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_catalogue_publication")),
        schema="registry",
    )  # fmt: skip
    op.create_table(
        "webhook_subscription",
        sa.Column("partner_id", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("event_types", postgresql.ARRAY(sa.String(length=120)), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("secret_sealed", sa.Text(), nullable=False),
        sa.Column(
            "secret_rotated_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column(
            "created_at", postgresql.TIMESTAMP(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "updated_at", postgresql.TIMESTAMP(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscription")),
        schema="registry",
    )
    op.create_index(
        op.f("ix_registry_webhook_subscription_partner_id"), "webhook_subscription", ["partner_id"],
        schema="registry",
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("webhook_subscription", schema="registry")
    op.drop_table("catalogue_publication", schema="registry")
