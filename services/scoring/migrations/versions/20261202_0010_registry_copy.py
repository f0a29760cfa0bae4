"""scoring's copy of the registry's products and entities, kept from registry.product/entity.updated

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _common() -> list[sa.Column[object]]:
    return [
        sa.Column("province_code", sa.String(length=10), nullable=False),
        sa.Column("commune_code", sa.String(length=10), nullable=False),
        sa.Column("snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("registry_updated_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        sa.Column(
            "received_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "registry_product",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("entity_id", sa.UUID(), nullable=False),
        sa.Column("product_code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("ocop_star", sa.SmallInteger(), nullable=True),
        *_common(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_product")),
        schema="scoring",
    )
    op.create_index("ix_registry_product_entity_id", "registry_product", ["entity_id"], schema="scoring")
    op.create_table(
        "registry_entity",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("legal_name", sa.String(length=255), nullable=False),
        sa.Column("entity_type", sa.String(length=30), nullable=False),
        sa.Column("tax_code", sa.String(length=14), nullable=False),
        *_common(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_entity")),
        schema="scoring",
    )


def downgrade() -> None:
    op.drop_table("registry_entity", schema="scoring")
    op.drop_index("ix_registry_product_entity_id", table_name="registry_product", schema="scoring")
    op.drop_table("registry_product", schema="scoring")
