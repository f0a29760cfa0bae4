"""EPCIS: an EPC row's role holds its longest value (``output_quantity``, 15 characters)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

0008 allowed the roles ``child_quantity``, ``input_quantity`` and ``output_quantity`` in its check but
gave the column 12 characters, so no event with such a list could be stored.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "stamps"


def upgrade() -> None:
    op.alter_column(
        "epcis_event_epc", "role", type_=sa.String(length=16), existing_type=sa.String(length=12),
        existing_nullable=False, schema=SCHEMA,
    )  # fmt: skip


def downgrade() -> None:
    op.alter_column(
        "epcis_event_epc", "role", type_=sa.String(length=12), existing_type=sa.String(length=16),
        existing_nullable=False, schema=SCHEMA,
    )  # fmt: skip
