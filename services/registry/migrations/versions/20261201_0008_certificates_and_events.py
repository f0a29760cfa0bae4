"""certificates and certification events

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

Certificates get their issuing authority, decision number and revocation ground, the status
``expiring``, a table of every certificate announced (numbers unique per authority) and a table of
the event ids received. Certificates recorded before this revision carried no authority: it is
derived from their level (the province's People's Committee, the ministry for the central level).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "('active', 'expiring', 'expired', 'revoked', 'superseded')"
OLD_STATUSES = "('active', 'expired', 'revoked', 'superseded')"

# The authority of a certificate recorded before this revision, from its level; the ministry changed
# its name on 1 March 2025 (MARD became the Ministry of Agriculture and Environment).
DERIVED_AUTHORITY = """
CASE p.certificate_level
    WHEN 'central' THEN CASE WHEN p.certificate_issued_on < DATE '2025-03-01'
                             THEN 'Bộ Nông nghiệp và Phát triển nông thôn' ELSE 'Bộ Nông nghiệp và Môi trường' END
    WHEN 'province' THEN 'Ủy ban nhân dân ' || coalesce(
        (SELECT u.unit_type || ' ' || u.name FROM registry.admin_unit u
         WHERE u.code = p.province_code AND u.level = 'province'
         ORDER BY u.valid_to DESC NULLS FIRST LIMIT 1),
        'tỉnh ' || p.province_code)
    ELSE 'Ủy ban nhân dân cấp huyện (xã ' || p.commune_code || ')'
END
"""


def upgrade() -> None:
    op.add_column(
        "product", sa.Column("certificate_authority", sa.String(length=255), nullable=True), schema="registry"
    )
    op.add_column(
        "product",
        sa.Column("certificate_decision_number", sa.String(length=60), nullable=True),
        schema="registry",
    )
    op.add_column(
        "product", sa.Column("certificate_revocation_ground", sa.Text(), nullable=True), schema="registry"
    )
    op.drop_constraint(op.f("ck_product_certificate_status"), "product", schema="registry", type_="check")
    op.create_check_constraint(
        op.f("ck_product_certificate_status"),
        "product",
        f"certificate_status IN {STATUSES}",
        schema="registry",
    )
    op.create_table(
        "certificate",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("product_id", sa.UUID(), nullable=False),
        sa.Column("issuing_authority", sa.String(length=255), nullable=False),
        sa.Column("certificate_number", sa.String(length=60), nullable=False),
        sa.Column("decision_number", sa.String(length=60), nullable=True),
        sa.Column("criteria_version", sa.String(length=10), nullable=True),
        sa.Column("ocop_star", sa.SmallInteger(), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("revocation_ground", sa.Text(), nullable=True),
        sa.Column(
            "created_at", postgresql.TIMESTAMP(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "updated_at", postgresql.TIMESTAMP(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint("expires_on > issued_on", name=op.f("ck_certificate_validity")),
        sa.CheckConstraint("level IN ('district', 'province', 'central')", name=op.f("ck_certificate_level")),
        sa.CheckConstraint("ocop_star BETWEEN 3 AND 5", name=op.f("ck_certificate_ocop_star_certified")),
        sa.CheckConstraint(f"status IN {STATUSES}", name=op.f("ck_certificate_status")),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["registry.product.id"],
            name=op.f("fk_certificate_product_id_product"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate")),
        sa.UniqueConstraint("issuing_authority", "certificate_number", name="authority_number"),
        schema="registry",
    )
    op.create_index(
        op.f("ix_registry_certificate_product_id"),
        "certificate",
        ["product_id"],
        unique=False,
        schema="registry",
    )
    op.create_table(
        "certification_event",
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("product_id", sa.UUID(), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("answer", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "received_at",
            postgresql.TIMESTAMP(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_certification_event")),
        schema="registry",
    )
    op.execute(
        f"UPDATE registry.product p SET certificate_authority = {DERIVED_AUTHORITY} "
        "WHERE p.certificate_number IS NOT NULL"
    )
    # Certificates of 1–2★ or with impossible dates were never valid: they stay on their product only.
    op.execute(
        """
        INSERT INTO registry.certificate (id, product_id, issuing_authority, certificate_number, ocop_star, level,
                                          issued_on, expires_on, status)
        SELECT gen_random_uuid(), id, certificate_authority, certificate_number, ocop_star, certificate_level,
               certificate_issued_on, certificate_expires_on, certificate_status
        FROM registry.product
        WHERE certificate_number IS NOT NULL AND ocop_star BETWEEN 3 AND 5
          AND certificate_expires_on > certificate_issued_on
        ORDER BY certificate_issued_on, id
        ON CONFLICT ON CONSTRAINT authority_number DO NOTHING
        """
    )


def downgrade() -> None:
    op.drop_table("certification_event", schema="registry")
    op.drop_index(op.f("ix_registry_certificate_product_id"), table_name="certificate", schema="registry")
    op.drop_table("certificate", schema="registry")
    op.execute(
        "UPDATE registry.product SET certificate_status = 'active' WHERE certificate_status = 'expiring'"
    )
    op.drop_constraint(op.f("ck_product_certificate_status"), "product", schema="registry", type_="check")
    op.create_check_constraint(
        op.f("ck_product_certificate_status"),
        "product",
        f"certificate_status IN {OLD_STATUSES}",
        schema="registry",
    )
    op.drop_column("product", "certificate_revocation_ground", schema="registry")
    op.drop_column("product", "certificate_decision_number", schema="registry")
    op.drop_column("product", "certificate_authority", schema="registry")
