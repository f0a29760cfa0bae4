"""import jobs carry the unit they were started in

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

A job is seen by the officers of the unit it was started in: a province officer sees the jobs of its
communes' officers too. Earlier jobs get their unit from their creator's scope.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "import_job", sa.Column("commune_code", sa.String(length=10), nullable=True), schema="registry"
    )
    op.add_column(
        "import_job", sa.Column("province_code", sa.String(length=10), nullable=True), schema="registry"
    )
    op.create_index(
        op.f("ix_registry_import_job_province_code"), "import_job", ["province_code"], schema="registry"
    )
    op.execute(
        """
        UPDATE registry.import_job j SET commune_code = j.scope, province_code = (
            SELECT u.province_code FROM registry.admin_unit u
            WHERE u.code = j.scope AND u.level = 'commune'
            ORDER BY u.valid_to DESC NULLS FIRST LIMIT 1)
        WHERE j.created_by_role = 'commune_officer'
        """
    )
    op.execute(
        "UPDATE registry.import_job SET province_code = scope WHERE created_by_role = 'province_officer'"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_registry_import_job_province_code"), table_name="import_job", schema="registry")
    op.drop_column("import_job", "province_code", schema="registry")
    op.drop_column("import_job", "commune_code", schema="registry")
