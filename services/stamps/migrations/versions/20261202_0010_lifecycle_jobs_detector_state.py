"""Whole-batch lifecycle changes as background jobs; activation's location; the anomaly detector's state

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

``stamp_change`` gains the job's status and progress (a change made in its request is ``done`` at once)
and the site an activation names. The batch index of ``stamp`` becomes (batch_id, serial): a job walks its
batch in serial order a chunk at a time. ``anomaly_detector_state`` keeps the detector's watermark.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "stamps"
STATUSES = ("queued", "running", "done", "failed")
TS = postgresql.TIMESTAMP(timezone=True)
EMPTY = sa.text("'{}'::jsonb")


def upgrade() -> None:
    columns = (
        sa.Column("status", sa.String(length=8), server_default="done", nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("after_serial", sa.String(length=18), nullable=True),
        sa.Column("by_state", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("location_id", sa.UUID(), nullable=True),
    )
    for column in columns:
        op.add_column("stamp_change", column, schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_stamp_change_status"), "stamp_change", f"status IN {STATUSES}", schema=SCHEMA
    )
    op.create_index(
        "ix_stamp_change_pending", "stamp_change", ["id"], schema=SCHEMA,
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )  # fmt: skip
    op.create_index("ix_stamp_batch_serial", "stamp", ["batch_id", "serial"], schema=SCHEMA)
    op.drop_index("ix_stamp_batch", table_name="stamp", schema=SCHEMA)
    op.create_table(
        "anomaly_detector_state",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("watermark", TS, nullable=False),
        sa.Column("examined", postgresql.JSONB(astext_type=sa.Text()), server_default=EMPTY, nullable=False),
        sa.Column("updated_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_anomaly_detector_state")),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("anomaly_detector_state", schema=SCHEMA)
    op.create_index("ix_stamp_batch", "stamp", ["batch_id"], schema=SCHEMA)
    op.drop_index("ix_stamp_batch_serial", table_name="stamp", schema=SCHEMA)
    op.drop_index("ix_stamp_change_pending", table_name="stamp_change", schema=SCHEMA)
    op.drop_constraint(op.f("ck_stamp_change_status"), "stamp_change", schema=SCHEMA)
    for name in (
        "location_id",
        "error",
        "finished_at",
        "started_at",
        "by_state",
        "after_serial",
        "total",
        "status",
    ):
        op.drop_column("stamp_change", name, schema=SCHEMA)
