"""councils, members and rounds; applications, snapshots, attachments, self-assessments, scorecards, results

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
# Re-chained onto "0003" (criteria) when both branches are merged.
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "scoring"


def _created_at() -> sa.Column[Any]:
    return sa.Column(
        "created_at", postgresql.TIMESTAMP(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _updated_at() -> sa.Column[Any]:
    return sa.Column(
        "updated_at", postgresql.TIMESTAMP(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "council",
        sa.Column("id", sa.UUID(), nullable=False),
        _created_at(),
        _updated_at(),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=True),
        sa.Column("quorum", sa.Numeric(precision=4, scale=3), nullable=False),
        sa.Column("quorum_includes_chair", sa.Boolean(), nullable=False),
        sa.Column("max_spread", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("level IN ('province', 'central')", name=op.f("ck_council_level")),
        sa.CheckConstraint(
            "(level = 'province' AND province_code ~ '^[0-9]{2}$') OR (level = 'central' AND province_code IS NULL)",
            name=op.f("ck_council_level_province"),
        ),
        sa.CheckConstraint("quorum > 0 AND quorum <= 1", name=op.f("ck_council_quorum_ratio")),
        sa.CheckConstraint("max_spread >= 0 AND max_spread <= 100", name=op.f("ck_council_max_spread_range")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_council")),
        schema=SCHEMA,
    )
    op.create_index("ix_council_province_code", "council", ["province_code"], unique=False, schema=SCHEMA)
    op.create_table(
        "council_member",
        sa.Column("id", sa.UUID(), nullable=False),
        _created_at(),
        sa.Column("council_id", sa.UUID(), nullable=False),
        sa.Column("sub", sa.String(length=200), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.CheckConstraint("role IN ('chair', 'member', 'secretary')", name=op.f("ck_council_member_role")),
        sa.ForeignKeyConstraint(
            ["council_id"], ["scoring.council.id"], name=op.f("fk_council_member_council_id_council")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_council_member")),
        sa.UniqueConstraint("council_id", "sub", name=op.f("uq_council_member_council_id_sub")),
        schema=SCHEMA,
    )
    op.create_index(
        "uq_council_member_one_chair", "council_member", ["council_id"], unique=True, schema=SCHEMA,
        postgresql_where=sa.text("role = 'chair'"),
    )  # fmt: skip
    op.create_table(
        "round",
        sa.Column("id", sa.UUID(), nullable=False),
        _created_at(),
        _updated_at(),
        sa.Column("council_id", sa.UUID(), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("cut_off", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("closed_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.CheckConstraint("level IN ('province', 'central')", name=op.f("ck_round_level")),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_round_status")),
        sa.ForeignKeyConstraint(
            ["council_id"], ["scoring.council.id"], name=op.f("fk_round_council_id_council")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round")),
        schema=SCHEMA,
    )
    op.create_index("ix_round_council_id", "round", ["council_id"], unique=False, schema=SCHEMA)
    op.create_index("ix_round_province_code", "round", ["province_code"], unique=False, schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("round", schema=SCHEMA)
    op.drop_index("uq_council_member_one_chair", table_name="council_member", schema=SCHEMA)
    op.drop_table("council_member", schema=SCHEMA)
    op.drop_table("council", schema=SCHEMA)
