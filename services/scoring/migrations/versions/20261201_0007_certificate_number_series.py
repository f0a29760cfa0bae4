"""certificate numbers unique outright: counters per number series, not per authority

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("certificate_number_counter", schema="scoring")
    op.create_table(
        "certificate_number_counter",
        sa.Column("series", sa.String(length=20), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("series", "year", name=op.f("pk_certificate_number_counter")),
        schema="scoring",
    )
    # Counters resume after the highest number each series gave each year (OCOP-{series}-{year}-{seq}).
    op.execute(
        """INSERT INTO scoring.certificate_number_counter (series, year, last)
           SELECT split_part(number, '-', 2), issued_year, max(split_part(number, '-', 4)::int)
           FROM scoring.certificate WHERE number ~ '^OCOP-[^-]+-[0-9]{4}-[0-9]+$'
           GROUP BY 1, 2"""
    )
    op.drop_constraint(
        "uq_certificate_issuing_authority_issued_year_number", "certificate", schema="scoring", type_="unique"
    )
    op.drop_index("ix_certificate_number", table_name="certificate", schema="scoring")
    op.create_unique_constraint(op.f("uq_certificate_number"), "certificate", ["number"], schema="scoring")


def downgrade() -> None:
    op.drop_constraint(op.f("uq_certificate_number"), "certificate", schema="scoring", type_="unique")
    op.create_index("ix_certificate_number", "certificate", ["number"], unique=False, schema="scoring")
    op.create_unique_constraint(
        "uq_certificate_issuing_authority_issued_year_number", "certificate",
        ["issuing_authority", "issued_year", "number"], schema="scoring",
    )  # fmt: skip
    op.drop_table("certificate_number_counter", schema="scoring")
    op.create_table(
        "certificate_number_counter",
        sa.Column("issuing_authority", sa.String(length=255), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("issuing_authority", "year", name=op.f("pk_certificate_number_counter")),
        schema="scoring",
    )
