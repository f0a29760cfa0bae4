"""certificates and their number counters

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "certificate",
        sa.Column("number", sa.String(length=60), nullable=False),
        sa.Column("issued_year", sa.SmallInteger(), nullable=False),
        sa.Column("issuing_authority", sa.String(length=255), nullable=False),
        sa.Column("decision_number", sa.String(length=60), nullable=False),
        sa.Column("star", sa.SmallInteger(), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("criteria_version", sa.String(length=20), nullable=False),
        sa.Column("product_id", sa.UUID(), nullable=False),
        sa.Column("entity_id", sa.UUID(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("commune_code", sa.String(length=5), nullable=True),
        sa.Column("product_set", sa.SmallInteger(), nullable=False),
        sa.Column("product_name", sa.String(length=255), nullable=False),
        sa.Column("entity_name", sa.String(length=255), nullable=False),
        sa.Column("application_id", sa.UUID(), nullable=True),
        sa.Column("result_id", sa.UUID(), nullable=True),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_changed_on", sa.Date(), nullable=False),
        sa.Column("revocation_ground", sa.String(length=40), nullable=True),
        sa.Column("revocation_reason", sa.Text(), nullable=True),
        sa.Column("superseded_by", sa.UUID(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("synced_version", sa.Integer(), nullable=False),
        sa.Column("sync_attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_sync_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_sync_error", sa.Text(), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column(
            "created_at", postgresql.TIMESTAMP(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "updated_at", postgresql.TIMESTAMP(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate")),
        sa.UniqueConstraint(
            "issuing_authority",
            "issued_year",
            "number",
            name=op.f("uq_certificate_issuing_authority_issued_year_number"),
        ),
        sa.UniqueConstraint("result_id", name=op.f("uq_certificate_result_id")),
        schema="scoring",
    )
    op.create_index("ix_certificate_number", "certificate", ["number"], unique=False, schema="scoring")
    op.create_index(
        "ix_certificate_product", "certificate", ["product_id", "issued_on"], unique=False, schema="scoring"
    )
    op.create_index(
        "ix_certificate_status_expiry",
        "certificate",
        ["status", "expires_on"],
        unique=False,
        schema="scoring",
    )
    op.create_index(
        "ix_certificate_unsynced", "certificate", ["next_sync_at"], unique=False, schema="scoring",
        postgresql_where=sa.text("synced_version < version"),
    )  # fmt: skip
    op.create_table(
        "certificate_number_counter",
        sa.Column("issuing_authority", sa.String(length=255), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("issuing_authority", "year", name=op.f("pk_certificate_number_counter")),
        schema="scoring",
    )


def downgrade() -> None:
    op.drop_table("certificate_number_counter", schema="scoring")
    op.drop_index("ix_certificate_unsynced", table_name="certificate", schema="scoring")
    op.drop_index("ix_certificate_status_expiry", table_name="certificate", schema="scoring")
    op.drop_index("ix_certificate_product", table_name="certificate", schema="scoring")
    op.drop_index("ix_certificate_number", table_name="certificate", schema="scoring")
    op.drop_table("certificate", schema="scoring")
