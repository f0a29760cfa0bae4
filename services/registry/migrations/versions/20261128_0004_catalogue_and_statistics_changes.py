"""catalogue and statistics changes

product.first_certified_on (the rating year of the statistics), kept by a trigger so that every
writer of certificates agrees on it; the catalogue's partial indexes (one per keyset order, and a
trigram index for its search) in place of the single ix_product_catalogue.

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The earliest issue date of any active certificate the product has carried. A trigger rather than
# application code: certificates are written by apply_certification and by bulk imports alike.
FIRST_CERTIFIED_FUNCTION = """
CREATE FUNCTION registry.product_first_certified() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.certificate_status = 'active' AND NEW.certificate_issued_on IS NOT NULL
       AND (NEW.first_certified_on IS NULL OR NEW.certificate_issued_on < NEW.first_certified_on) THEN
        NEW.first_certified_on := NEW.certificate_issued_on;
    END IF;
    RETURN NEW;
END
$$
"""
CATALOGUE_ROWS = sa.text("status = 'certified' AND certificate_status = 'active'")
FIRST_CERTIFIED_TRIGGER = """
CREATE TRIGGER product_first_certified
BEFORE INSERT OR UPDATE OF certificate_issued_on, certificate_status, first_certified_on ON registry.product
FOR EACH ROW EXECUTE FUNCTION registry.product_first_certified()
"""


def upgrade() -> None:
    op.drop_index("ix_product_catalogue", table_name="product", schema="registry")
    op.create_index(
        "ix_product_catalogue_name", "product", ["name_folded", "id"], schema="registry",
        postgresql_where=CATALOGUE_ROWS,
    )  # fmt: skip
    op.create_index(
        "ix_product_catalogue_province", "product", ["province_code", "name_folded", "id"], schema="registry",
        postgresql_where=CATALOGUE_ROWS,
    )  # fmt: skip
    op.create_index(
        "ix_product_catalogue_star", "product", [sa.text("ocop_star DESC"), "name_folded", "id"],
        schema="registry", postgresql_where=CATALOGUE_ROWS,
    )  # fmt: skip
    op.create_index(
        "ix_product_catalogue_issued", "product", [sa.text("certificate_issued_on DESC"), "name_folded", "id"],
        schema="registry", postgresql_where=CATALOGUE_ROWS,
    )  # fmt: skip
    op.create_index(
        "ix_product_catalogue_name_trgm", "product", ["name_folded"], schema="registry",
        postgresql_using="gin", postgresql_ops={"name_folded": "extensions.gin_trgm_ops"},
        postgresql_where=CATALOGUE_ROWS,
    )  # fmt: skip
    op.add_column("product", sa.Column("first_certified_on", sa.Date(), nullable=True), schema="registry")
    op.execute(FIRST_CERTIFIED_FUNCTION)
    op.execute(FIRST_CERTIFIED_TRIGGER)
    # Products certified before this revision: their current certificate is the earliest one known.
    op.execute(
        "UPDATE registry.product SET first_certified_on = certificate_issued_on "
        "WHERE certificate_issued_on IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER product_first_certified ON registry.product")
    op.execute("DROP FUNCTION registry.product_first_certified()")
    op.drop_column("product", "first_certified_on", schema="registry")
    for name in ("ix_product_catalogue_name_trgm", "ix_product_catalogue_issued", "ix_product_catalogue_star",
                 "ix_product_catalogue_province", "ix_product_catalogue_name"):  # fmt: skip
        op.drop_index(name, table_name="product", schema="registry")
    op.create_index(
        "ix_product_catalogue", "product", ["ocop_star", "name_folded", "id"], schema="registry",
        postgresql_where=sa.text("certificate_status = 'active'"),
    )  # fmt: skip
