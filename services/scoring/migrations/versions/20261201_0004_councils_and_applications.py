"""councils, members and rounds; applications, snapshots, attachments, self-assessments, scorecards, results

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "scoring"
STATES = (
    "draft", "submitted", "returned", "forwarded", "eligible", "in_round", "scoring", "rescore",
    "recognised", "not_recognised", "potential_5_star", "submitted_central",
)  # fmt: skip
IMMUTABLE = ("scorecard", "result")


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

    op.create_table(
        "application",
        sa.Column("id", sa.UUID(), nullable=False),
        _created_at(),
        _updated_at(),
        sa.Column("product_id", sa.UUID(), nullable=False),
        sa.Column("entity_id", sa.UUID(), nullable=False),
        sa.Column("commune_code", sa.String(length=10), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("application_type", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("classification", sa.String(length=20), nullable=True),
        sa.Column("product_set", sa.Integer(), nullable=True),
        sa.Column("criteria_version", sa.String(length=20), nullable=True),
        sa.Column("sheet_id", sa.UUID(), nullable=True),
        sa.Column("snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("snapshot_sha256", sa.String(length=64), nullable=True),
        sa.Column("submitted_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.Column("level", sa.String(length=20), nullable=True),
        sa.Column("round_id", sa.UUID(), nullable=True),
        sa.Column("council_id", sa.UUID(), nullable=True),
        sa.Column("scoring_pass", sa.Integer(), nullable=False),
        sa.Column("return_reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "application_type IN ('new', 'upgrade', 're_rating')",
            name=op.f("ck_application_application_type"),
        ),
        sa.CheckConstraint(f"status IN {STATES}", name=op.f("ck_application_status")),
        sa.CheckConstraint("level IN ('province', 'central')", name=op.f("ck_application_level")),
        sa.CheckConstraint("scoring_pass >= 0", name=op.f("ck_application_scoring_pass_not_negative")),
        sa.ForeignKeyConstraint(
            ["council_id"], ["scoring.council.id"], name=op.f("fk_application_council_id_council")
        ),
        sa.ForeignKeyConstraint(
            ["round_id"], ["scoring.round.id"], name=op.f("fk_application_round_id_round")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application")),
        schema=SCHEMA,
    )
    for column in ("entity_id", "commune_code", "province_code", "council_id", "round_id"):
        op.create_index(f"ix_application_{column}", "application", [column], unique=False, schema=SCHEMA)
    op.create_index(
        "uq_application_product_under_way", "application", ["product_id"], unique=True, schema=SCHEMA,
        postgresql_where=sa.text("status NOT IN ('recognised', 'not_recognised', 'potential_5_star')"),
    )  # fmt: skip
    op.create_table(
        "attachment_blob",
        _created_at(),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=60), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_attachment_blob")),
        schema=SCHEMA,
    )
    op.create_table(
        "attachment",
        sa.Column("id", sa.UUID(), nullable=False),
        _created_at(),
        sa.Column("application_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=60), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["scoring.application.id"],
            name=op.f("fk_attachment_application_id_application"),
        ),
        sa.ForeignKeyConstraint(
            ["sha256"], ["scoring.attachment_blob.sha256"], name=op.f("fk_attachment_sha256_attachment_blob")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachment")),
        sa.UniqueConstraint(
            "application_id", "kind", "sha256", name=op.f("uq_attachment_application_id_kind_sha256")
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "self_assessment",
        _created_at(),
        _updated_at(),
        sa.Column("application_id", sa.UUID(), nullable=False),
        sa.Column("sheet_id", sa.UUID(), nullable=False),
        sa.Column("choices", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("parts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("total", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("mandatory_failed", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("eliminated", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["scoring.application.id"],
            name=op.f("fk_self_assessment_application_id_application"),
        ),
        sa.PrimaryKeyConstraint("application_id", name=op.f("pk_self_assessment")),
        schema=SCHEMA,
    )
    op.create_table(
        "scorecard",
        sa.Column("id", sa.UUID(), nullable=False),
        _created_at(),
        sa.Column("application_id", sa.UUID(), nullable=False),
        sa.Column("pass_number", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.UUID(), nullable=False),
        sa.Column("member_id", sa.UUID(), nullable=False),
        sa.Column("member_sub", sa.String(length=200), nullable=False),
        sa.Column("member_role", sa.String(length=20), nullable=False),
        sa.Column("choices", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("parts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("total", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("mandatory_failed", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("eliminated", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.CheckConstraint("total >= 0 AND total <= 100", name=op.f("ck_scorecard_total_range")),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["scoring.application.id"],
            name=op.f("fk_scorecard_application_id_application"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["scoring.council_member.id"], name=op.f("fk_scorecard_member_id_council_member")
        ),
        sa.ForeignKeyConstraint(["round_id"], ["scoring.round.id"], name=op.f("fk_scorecard_round_id_round")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scorecard")),
        sa.UniqueConstraint(
            "application_id",
            "pass_number",
            "member_id",
            name=op.f("uq_scorecard_application_id_pass_number_member_id"),
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "result",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("application_id", sa.UUID(), nullable=False),
        sa.Column("pass_number", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.UUID(), nullable=False),
        sa.Column("council_id", sa.UUID(), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("average_total", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("parts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("spread", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("band_star", sa.Integer(), nullable=False),
        sa.Column("star", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("mandatory_failed", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("eliminated", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("criteria_version", sa.String(length=20), nullable=False),
        sa.Column("rule", sa.String(length=300), nullable=False),
        sa.Column("members_scored", sa.Integer(), nullable=False),
        sa.Column("members_expected", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.UUID(), nullable=False),
        sa.Column("entity_id", sa.UUID(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("application_type", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column(
            "decided_at", postgresql.TIMESTAMP(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint("level IN ('province', 'central')", name=op.f("ck_result_level")),
        sa.CheckConstraint(
            "outcome IN ('recognised', 'not_recognised', 'potential_5_star', 'provincial_result_kept')",
            name=op.f("ck_result_outcome"),
        ),
        sa.CheckConstraint(
            "star BETWEEN 1 AND 5 AND band_star BETWEEN 1 AND 5", name=op.f("ck_result_stars")
        ),
        sa.ForeignKeyConstraint(
            ["application_id"], ["scoring.application.id"], name=op.f("fk_result_application_id_application")
        ),
        sa.ForeignKeyConstraint(
            ["council_id"], ["scoring.council.id"], name=op.f("fk_result_council_id_council")
        ),
        sa.ForeignKeyConstraint(["round_id"], ["scoring.round.id"], name=op.f("fk_result_round_id_round")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_result")),
        sa.UniqueConstraint(
            "application_id", "pass_number", name=op.f("uq_result_application_id_pass_number")
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_result_product_id", "result", ["product_id"], unique=False, schema=SCHEMA)
    # Scorecards and results are never changed once written: a correction is a new decision.
    op.execute(
        """CREATE FUNCTION scoring.refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN RAISE EXCEPTION '% rows are immutable', TG_TABLE_NAME USING ERRCODE = 'restrict_violation'; END $$"""
    )
    for table in IMMUTABLE:
        op.execute(
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE ON scoring.{table} "
            "FOR EACH ROW EXECUTE FUNCTION scoring.refuse_update()"
        )


def downgrade() -> None:
    for table in IMMUTABLE:
        op.execute(f"DROP TRIGGER {table}_immutable ON scoring.{table}")
    op.execute("DROP FUNCTION scoring.refuse_update()")
    op.drop_index("ix_result_product_id", table_name="result", schema=SCHEMA)
    op.drop_table("result", schema=SCHEMA)
    op.drop_table("scorecard", schema=SCHEMA)
    op.drop_table("self_assessment", schema=SCHEMA)
    op.drop_table("attachment", schema=SCHEMA)
    op.drop_table("attachment_blob", schema=SCHEMA)
    op.drop_index("uq_application_product_under_way", table_name="application", schema=SCHEMA)
    for column in ("entity_id", "commune_code", "province_code", "council_id", "round_id"):
        op.drop_index(f"ix_application_{column}", table_name="application", schema=SCHEMA)
    op.drop_table("application", schema=SCHEMA)
    op.drop_table("round", schema=SCHEMA)
    op.drop_index("uq_council_member_one_chair", table_name="council_member", schema=SCHEMA)
    op.drop_table("council_member", schema=SCHEMA)
    op.drop_table("council", schema=SCHEMA)
