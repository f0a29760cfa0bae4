"""The consumer's verification flow: each scan's reasons and consented location time; consumer reports

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02

A browser's scan is answered with a 307 to a page of that very scan (``/s/{token}``), so the page shows
the verdict as it was judged: the scan row keeps its reasons beside its outcome, rules and risk. A
location the consumer shares from that page is stored on the scan with the time it came
(``located_at``), for the anomaly detector to examine the scan again. Consumers' reports go to
``consumer_report``, with an optional photo. The detector keeps the ids of the scans it examined again
for a shared location beside its watermark (``anomaly_detector_state.relocated``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "stamps"
TS = postgresql.TIMESTAMP(timezone=True)


def upgrade() -> None:
    # Nullable, no default: adding them to the partitioned table rewrites no partition.
    op.add_column("scan", sa.Column("reasons", postgresql.ARRAY(sa.String(length=32))), schema=SCHEMA)
    op.add_column("scan", sa.Column("located_at", TS), schema=SCHEMA)
    # The anomaly detector looks for the scans located since its last round: few, so a partial index.
    op.execute("CREATE INDEX ix_scan_located ON stamps.scan (located_at) WHERE located_at IS NOT NULL")
    op.add_column(
        "anomaly_detector_state",
        sa.Column("relocated", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"),
                  nullable=False),
        schema=SCHEMA,
    )  # fmt: skip
    op.create_table(
        "consumer_report",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("serial", sa.String(length=18), nullable=False),
        sa.Column("scan_id", sa.BigInteger()),
        sa.Column("scanned_at", TS),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("shop_name", sa.String(length=200)),
        sa.Column("shop_address", sa.String(length=500)),
        sa.Column("photo", postgresql.BYTEA()),
        sa.Column("photo_type", sa.String(length=16)),
        sa.Column("batch_id", sa.Uuid()),
        sa.Column("product_id", sa.Uuid()),
        sa.Column("entity_id", sa.Uuid()),
        sa.Column("province_code", sa.String(length=2)),
        sa.Column("status", sa.String(length=10), server_default="open", nullable=False),
        sa.Column("resolved_by", sa.String(length=200)),
        sa.Column("resolved_at", TS),
        sa.Column("resolution_note", sa.Text()),
        sa.Column("created_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('open', 'resolved')", name=op.f("ck_consumer_report_status")),
        sa.CheckConstraint(
            "kind IN ('suspected_fake', 'stamp_damaged', 'product_mismatch', 'expired', 'other')",
            name=op.f("ck_consumer_report_kind"),
        ),
        sa.CheckConstraint("(photo IS NULL) = (photo_type IS NULL)", name=op.f("ck_consumer_report_photo")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consumer_report")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_consumer_report_province",
        "consumer_report",
        ["province_code", "status", "created_at"],
        schema=SCHEMA,
    )
    op.create_index(
        "ix_consumer_report_entity", "consumer_report", ["entity_id", "created_at"], schema=SCHEMA
    )
    op.create_index("ix_consumer_report_serial", "consumer_report", ["serial"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("consumer_report", schema=SCHEMA)
    op.drop_column("anomaly_detector_state", "relocated", schema=SCHEMA)
    op.execute("DROP INDEX stamps.ix_scan_located")
    op.drop_column("scan", "located_at", schema=SCHEMA)
    op.drop_column("scan", "reasons", schema=SCHEMA)
