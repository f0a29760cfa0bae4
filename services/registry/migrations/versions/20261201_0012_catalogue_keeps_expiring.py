"""the catalogue keeps products whose certificate is expiring

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01

An expiring certificate (the 30-day notice before its expiry date) is still in force: its product
stays in the public catalogue until the date. The catalogue's partial indexes follow its definition.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW = sa.text("status = 'certified' AND certificate_status IN ('active', 'expiring')")
OLD = sa.text("status = 'certified' AND certificate_status = 'active'")


def _indexes(where: sa.TextClause) -> None:
    op.create_index("ix_product_catalogue_name", "product", ["name_folded", "id"], schema="registry",
                    postgresql_where=where)  # fmt: skip
    op.create_index("ix_product_catalogue_province", "product", ["province_code", "name_folded", "id"],
                    schema="registry", postgresql_where=where)  # fmt: skip
    op.create_index("ix_product_catalogue_star", "product", [sa.text("ocop_star DESC"), "name_folded", "id"],
                    schema="registry", postgresql_where=where)  # fmt: skip
    op.create_index("ix_product_catalogue_issued", "product",
                    [sa.text("certificate_issued_on DESC"), "name_folded", "id"],
                    schema="registry", postgresql_where=where)  # fmt: skip
    op.create_index("ix_product_catalogue_name_trgm", "product", ["name_folded"], schema="registry",
                    postgresql_using="gin", postgresql_ops={"name_folded": "extensions.gin_trgm_ops"},
                    postgresql_where=where)  # fmt: skip


def _drop() -> None:
    for name in ("name", "province", "star", "issued", "name_trgm"):
        op.drop_index(f"ix_product_catalogue_{name}", table_name="product", schema="registry")


def upgrade() -> None:
    _drop()
    _indexes(NEW)


def downgrade() -> None:
    _drop()
    _indexes(OLD)
