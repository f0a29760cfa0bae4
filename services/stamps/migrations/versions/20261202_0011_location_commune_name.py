"""Locations: the commune's name, so the trace view names the place (not only its code)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

Sites registered before keep their commune code; their name is taken from the snapshot's products in
that commune (the newest one naming it), where there is one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "stamps"


def upgrade() -> None:
    op.add_column(
        "epcis_location", sa.Column("commune_name", sa.String(length=255), nullable=True), schema=SCHEMA
    )
    op.execute(
        """
        UPDATE stamps.epcis_location AS location SET commune_name = named.commune_name
        FROM (
            SELECT DISTINCT ON (commune_code) commune_code, commune_name, province_code
            FROM stamps.product_snapshot
            WHERE commune_name IS NOT NULL
            ORDER BY commune_code, registry_updated_at DESC, id
        ) AS named
        WHERE location.commune_code = named.commune_code AND location.province_code = named.province_code
        """
    )


def downgrade() -> None:
    op.drop_column("epcis_location", "commune_name", schema=SCHEMA)
