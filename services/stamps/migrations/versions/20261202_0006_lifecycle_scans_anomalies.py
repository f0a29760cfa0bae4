"""stamp lifecycle columns and audit, the scan log (partitioned by month), hashing salts, anomalies

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

The scan log is range-partitioned on ``scanned_at`` by month: old months are detached or dropped
whole, and the hot path's index probes stay in small partitions. ``ensure_scan_partitions`` creates
months ahead (the service calls it at start-up and daily); a default partition catches anything
outside them so a scan is never refused for want of a partition.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "stamps"
TS = postgresql.TIMESTAMP(timezone=True)
VERDICTS = "('genuine', 'caution', 'suspected', 'revoked', 'not_activated', 'unknown', 'malformed')"
ACTIONS = "('issue', 'activate', 'suspend', 'unsuspend', 'revoke', 'void')"

ENSURE_PARTITIONS = """
CREATE OR REPLACE FUNCTION stamps.ensure_scan_partitions(first_month date, months integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    month date;
    created integer := 0;
    name text;
BEGIN
    FOR i IN 0 .. months - 1 LOOP
        month := (date_trunc('month', first_month) + make_interval(months => i))::date;
        name := 'scan_' || to_char(month, 'YYYY_MM');
        IF to_regclass('stamps.' || name) IS NULL THEN
            BEGIN
                EXECUTE format(
                    'CREATE TABLE stamps.%I PARTITION OF stamps.scan FOR VALUES FROM (%L) TO (%L)',
                    name, month::timestamptz, (month + interval '1 month')::timestamptz
                );
                created := created + 1;
            EXCEPTION WHEN check_violation THEN
                -- Rows of that month already sit in the default partition: leave them there.
                RAISE NOTICE 'scan partition % not created: the default partition holds its rows', name;
            END;
        END IF;
    END LOOP;
    RETURN created;
END;
$$;
"""


def upgrade() -> None:
    # The lifecycle, on the stamp row: its state is read without replaying anything (written by lifecycle).
    for column in (
        sa.Column("activated_at", TS, nullable=True),
        sa.Column("activated_by", sa.String(length=200), nullable=True),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("last_change_id", sa.BigInteger(), nullable=True),
    ):
        op.add_column("stamp", column, schema=SCHEMA)

    # How often and since when a stamp has been verified (written by verification, one upsert per batch
    # of scans), and its risk from the counterfeit rules (written by anomalies): apart from the stamp so
    # each table has one writer.
    op.create_table(
        "stamp_scan",
        sa.Column("serial", sa.String(length=18), nullable=False),
        sa.Column("scan_count", sa.Integer(), nullable=False),
        sa.Column("first_scanned_at", TS, nullable=False),
        sa.Column("first_scan_province", sa.String(length=2), nullable=True),
        sa.Column("last_scanned_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_stamp_scan")),
        schema=SCHEMA,
    )
    op.create_table(
        "stamp_risk",
        sa.Column("serial", sa.String(length=18), nullable=False),
        sa.Column("risk_score", sa.SmallInteger(), nullable=False),
        sa.Column("rules", postgresql.ARRAY(sa.String(length=4)), server_default="{}", nullable=False),
        sa.Column("impossible_travel", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("updated_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("risk_score BETWEEN 0 AND 100", name=op.f("ck_stamp_risk_score")),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_stamp_risk")),
        schema=SCHEMA,
    )

    # One row per lifecycle operation (who, when, why, on what), one item per stamp it changed.
    op.create_table(
        "stamp_change",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("actor_role", sa.String(length=30), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("batch_id", sa.UUID(), nullable=True),
        sa.Column("lot", sa.String(length=20), nullable=True),
        sa.Column("production_date", sa.Date(), nullable=True),
        sa.Column("expiry_date", sa.Date(), nullable=True),
        sa.Column("requested", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(f"action IN {ACTIONS}", name=op.f("ck_stamp_change_action")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stamp_change")),
        schema=SCHEMA,
    )
    op.create_index("ix_stamp_change_batch", "stamp_change", ["batch_id", "id"], schema=SCHEMA)
    op.create_table(
        "stamp_change_item",
        sa.Column("serial", sa.String(length=18), nullable=False),
        sa.Column("change_id", sa.BigInteger(), nullable=False),
        sa.Column("from_state", sa.String(length=12), nullable=False),
        sa.Column("to_state", sa.String(length=12), nullable=False),
        sa.PrimaryKeyConstraint("serial", "change_id", name=op.f("pk_stamp_change_item")),
        schema=SCHEMA,
    )

    # The scan log: every resolver hit, also of malformed and unknown codes.
    op.execute("CREATE SEQUENCE stamps.scan_id_seq AS bigint")
    op.execute(
        f"""
        CREATE TABLE stamps.scan (
            id bigint NOT NULL DEFAULT nextval('stamps.scan_id_seq'),
            scanned_at timestamptz NOT NULL,
            serial varchar(18),
            gtin varchar(14),
            lot varchar(20),
            path varchar(300),
            batch_id uuid,
            verdict varchar(16) NOT NULL,
            rules varchar(4)[] NOT NULL DEFAULT '{{}}',
            risk smallint NOT NULL DEFAULT 0,
            channel varchar(8) NOT NULL,
            ip_hash bytea,
            device_hash bytea,
            user_agent varchar(300),
            latitude double precision,
            longitude double precision,
            accuracy_m real,
            province_code varchar(2),
            CONSTRAINT pk_scan PRIMARY KEY (scanned_at, id),
            CONSTRAINT ck_scan_verdict CHECK (verdict IN {VERDICTS}),
            CONSTRAINT ck_scan_location CHECK (
                (latitude IS NULL) = (longitude IS NULL)
                AND (latitude IS NULL OR (latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180))
            )
        ) PARTITION BY RANGE (scanned_at)
        """
    )
    op.execute("ALTER SEQUENCE stamps.scan_id_seq OWNED BY stamps.scan.id")
    op.execute("CREATE INDEX ix_scan_serial ON stamps.scan (serial, scanned_at)")
    op.execute("CREATE INDEX ix_scan_id ON stamps.scan (id)")
    op.execute("CREATE INDEX ix_scan_ip ON stamps.scan (ip_hash, scanned_at)")
    op.execute("CREATE INDEX ix_scan_batch ON stamps.scan (batch_id, scanned_at) WHERE batch_id IS NOT NULL")
    op.execute("CREATE TABLE stamps.scan_default PARTITION OF stamps.scan DEFAULT")
    op.execute(ENSURE_PARTITIONS)
    op.execute("SELECT stamps.ensure_scan_partitions((now() - interval '1 month')::date, 15)")

    # The salt IP addresses are hashed with: one per day (Vietnam's date), dropped after 30 days so
    # an old hash can no longer be linked to an address.
    op.create_table(
        "scan_salt",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("salt", postgresql.BYTEA(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_scan_salt")),
        schema=SCHEMA,
    )

    # Counterfeit signals for officers to review.
    op.create_table(
        "anomaly",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("rule", sa.String(length=4), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("serial", sa.String(length=18), nullable=True),
        sa.Column("batch_id", sa.UUID(), nullable=True),
        sa.Column("product_id", sa.UUID(), nullable=True),
        sa.Column("entity_id", sa.UUID(), nullable=True),
        sa.Column("province_code", sa.String(length=2), nullable=True),
        sa.Column("scan_id", sa.BigInteger(), nullable=True),
        sa.Column("scanned_at", TS, nullable=True),
        sa.Column("detail", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="open", nullable=False),
        sa.Column("resolved_by", sa.String(length=200), nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.Column("created_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('open', 'resolved')", name=op.f("ck_anomaly_status")),
        sa.CheckConstraint("score BETWEEN 0 AND 100", name=op.f("ck_anomaly_score")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomaly")),
        schema=SCHEMA,
    )
    op.create_index("ix_anomaly_status", "anomaly", ["status", "created_at"], schema=SCHEMA)
    op.create_index(
        "ix_anomaly_province", "anomaly", ["province_code", "status", "created_at"], schema=SCHEMA
    )
    op.create_index("ix_anomaly_serial", "anomaly", ["serial", "rule"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("anomaly", schema=SCHEMA)
    op.drop_table("scan_salt", schema=SCHEMA)
    op.execute("DROP FUNCTION stamps.ensure_scan_partitions(date, integer)")
    op.execute("DROP TABLE stamps.scan")
    op.drop_table("stamp_change_item", schema=SCHEMA)
    op.drop_table("stamp_change", schema=SCHEMA)
    op.drop_table("stamp_risk", schema=SCHEMA)
    op.drop_table("stamp_scan", schema=SCHEMA)
    for column in ("last_change_id", "state_reason", "activated_by", "activated_at"):
        op.drop_column("stamp", column, schema=SCHEMA)
