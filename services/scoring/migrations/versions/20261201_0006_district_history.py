"""district councils, rounds, dossiers and results, as history

Districts decided 3★ under Decisions 781 (2020) and 148 (2023) until 1489 abolished them on
1 July 2025. Scoring records those decisions (the demo's history) with a ``district`` level on
council, round, application and result; no route sets up a district council or opens its rounds.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("council", "round", "application", "result")
COUNCIL_PROVINCE = (
    "(level IN ('province', 'district') AND province_code ~ '^[0-9]{2}$')"
    " OR (level = 'central' AND province_code IS NULL)"
)


def _levels(levels: str) -> None:
    for table in TABLES:
        op.drop_constraint(op.f(f"ck_{table}_level"), table, type_="check", schema="scoring")
        op.create_check_constraint(op.f(f"ck_{table}_level"), table, f"level IN ({levels})", schema="scoring")


def upgrade() -> None:
    _levels("'province', 'central', 'district'")
    op.drop_constraint(op.f("ck_council_level_province"), "council", type_="check", schema="scoring")
    op.create_check_constraint(
        op.f("ck_council_level_province"), "council", COUNCIL_PROVINCE, schema="scoring"
    )


def downgrade() -> None:
    # District records are history only (no live dossier refers to them): they go with the level.
    op.execute("DELETE FROM scoring.result WHERE level = 'district'")
    op.execute("DELETE FROM scoring.application WHERE level = 'district'")
    op.execute("DELETE FROM scoring.round WHERE level = 'district'")
    op.execute(
        "DELETE FROM scoring.council_member WHERE council_id IN (SELECT id FROM scoring.council WHERE level = 'district')"
    )
    op.execute("DELETE FROM scoring.council WHERE level = 'district'")
    _levels("'province', 'central'")
    op.drop_constraint(op.f("ck_council_level_province"), "council", type_="check", schema="scoring")
    op.create_check_constraint(
        op.f("ck_council_level_province"),
        "council",
        "(level = 'province' AND province_code ~ '^[0-9]{2}$') OR (level = 'central' AND province_code IS NULL)",
        schema="scoring",
    )
