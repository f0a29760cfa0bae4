"""stamps' snapshot of products, producers and certificates, kept from the registry's and scoring's events

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "stamps"


def _received_at() -> sa.Column[object]:
    return sa.Column(
        "received_at", postgresql.TIMESTAMP(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "product_snapshot",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("entity_id", sa.UUID(), nullable=False),
        sa.Column("entity_legal_name", sa.String(length=255), nullable=False),
        sa.Column("product_code", sa.String(length=40), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("name_en", sa.String(length=255), nullable=True),
        sa.Column("images", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("commune_code", sa.String(length=10), nullable=False),
        sa.Column("commune_name", sa.String(length=255), nullable=True),
        sa.Column("province_code", sa.String(length=10), nullable=False),
        sa.Column("province_name", sa.String(length=255), nullable=True),
        sa.Column("registry_updated_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        _received_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_snapshot")),
        schema=SCHEMA,
    )
    op.create_table(
        "entity_snapshot",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("legal_name", sa.String(length=255), nullable=False),
        sa.Column("registry_updated_at", postgresql.TIMESTAMP(timezone=True), nullable=False),
        _received_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entity_snapshot")),
        schema=SCHEMA,
    )
    op.create_table(
        "certificate_snapshot",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("product_id", sa.UUID(), nullable=False),
        sa.Column("number", sa.String(length=60), nullable=False),
        sa.Column("star", sa.SmallInteger(), nullable=False),
        sa.Column("level", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("issuing_authority", sa.String(length=255), nullable=False),
        sa.Column("revocation_ground", sa.Text(), nullable=True),
        sa.Column("superseded_by", sa.UUID(), nullable=True),
        _received_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate_snapshot")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_certificate_snapshot_product", "certificate_snapshot", ["product_id", "issued_on"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_index("ix_certificate_snapshot_product", table_name="certificate_snapshot", schema=SCHEMA)
    op.drop_table("certificate_snapshot", schema=SCHEMA)
    op.drop_table("entity_snapshot", schema=SCHEMA)
    op.drop_table("product_snapshot", schema=SCHEMA)
