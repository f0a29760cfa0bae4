"""EPCIS 2.0 repository: capture jobs, events (raw JSON kept verbatim plus indexed columns), their EPCs, locations

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

Queries never rebuild an event from attribute rows: ``doc`` is the event as captured (or generated),
served as it is; the columns beside it and ``epcis_event_epc`` (one row per EPC or quantity class per
event, in one canonical form) are what queries filter on.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "stamps"
TS = postgresql.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.create_table(
        "epcis_capture_job",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("error_behaviour", sa.String(length=10), server_default="rollback", nullable=False),
        sa.Column("captured_by", sa.String(length=200), nullable=False),
        sa.Column("captured_role", sa.String(length=30), nullable=False),
        sa.Column("captured_scope", sa.String(length=100), nullable=True),
        sa.Column("event_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("size_bytes", sa.Integer(), server_default="0", nullable=False),
        # The document waiting to be processed; cleared once the job has finished.
        sa.Column("document", postgresql.JSONB(), nullable=True),
        sa.Column("errors", postgresql.JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column("created_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'success', 'failure')", name=op.f("ck_epcis_capture_job_status")
        ),
        sa.CheckConstraint(
            "error_behaviour IN ('rollback', 'proceed')", name=op.f("ck_epcis_capture_job_error_behaviour")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_epcis_capture_job")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_epcis_capture_job_running", "epcis_capture_job", ["created_at"], schema=SCHEMA,
        postgresql_where=sa.text("status = 'running'"),
    )  # fmt: skip

    op.create_table(
        "epcis_event",
        sa.Column("id", sa.UUID(), nullable=False),
        # The event's eventID as given, or the canonical hash id (ni:///sha-256;…) when none was.
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("type", sa.String(length=24), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=True),
        sa.Column("event_time", TS, nullable=False),
        sa.Column("event_time_zone_offset", sa.String(length=6), nullable=False),
        sa.Column("record_time", TS, server_default=sa.text("now()"), nullable=False),
        sa.Column("biz_step", sa.Text(), nullable=True),
        sa.Column("disposition", sa.Text(), nullable=True),
        sa.Column("read_point", sa.Text(), nullable=True),
        sa.Column("biz_location", sa.Text(), nullable=True),
        sa.Column("capture_job_id", sa.UUID(), nullable=True),
        # Who the event belongs to: the capturing producer (or the stamps' producer for generated events).
        sa.Column("entity_id", sa.UUID(), nullable=True),
        sa.Column("province_code", sa.String(length=2), nullable=True),
        sa.Column("origin", sa.String(length=10), nullable=False),
        sa.Column("doc", postgresql.JSONB(), nullable=False),
        sa.CheckConstraint(
            "type IN ('ObjectEvent', 'AggregationEvent', 'TransactionEvent', 'TransformationEvent', "
            "'AssociationEvent')",
            name=op.f("ck_epcis_event_type"),
        ),
        sa.CheckConstraint("origin IN ('capture', 'stamps')", name=op.f("ck_epcis_event_origin")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_epcis_event")),
        sa.UniqueConstraint("event_id", name=op.f("uq_epcis_event_event_id")),
        schema=SCHEMA,
    )
    for name, columns in (
        ("ix_epcis_event_time", ["event_time", "id"]),
        ("ix_epcis_event_record_time", ["record_time", "id"]),
        ("ix_epcis_event_biz_step", ["biz_step", "event_time"]),
        ("ix_epcis_event_biz_location", ["biz_location", "event_time"]),
        ("ix_epcis_event_read_point", ["read_point", "event_time"]),
        ("ix_epcis_event_entity", ["entity_id", "event_time"]),
        ("ix_epcis_event_province", ["province_code", "event_time"]),
    ):
        op.create_index(name, "epcis_event", columns, schema=SCHEMA)

    op.create_table(
        "epcis_event_epc",
        sa.Column("event_uuid", sa.UUID(), nullable=False),
        # The canonical form (docs: EPC URN for instances, class URN for classes) matching is done on.
        sa.Column("epc", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
        sa.CheckConstraint(
            "role IN ('epc', 'parent', 'child', 'input', 'output', 'quantity', 'child_quantity', "
            "'input_quantity', 'output_quantity')",
            name=op.f("ck_epcis_event_epc_role"),
        ),
        sa.ForeignKeyConstraint(
            ["event_uuid"],
            [f"{SCHEMA}.epcis_event.id"],
            name=op.f("fk_epcis_event_epc_event_uuid_epcis_event"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_uuid", "epc", "role", name=op.f("pk_epcis_event_epc")),
        schema=SCHEMA,
    )
    op.create_index("ix_epcis_event_epc_epc", "epcis_event_epc", ["epc", "event_uuid"], schema=SCHEMA)

    op.create_table(
        "epcis_location",
        sa.Column("id", sa.UUID(), nullable=False),
        # urn:epc:id:sgln:… for a site with a GLN, otherwise a platform-assigned URI.
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("gln", sa.String(length=13), nullable=True),
        sa.Column("entity_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("commune_code", sa.String(length=10), nullable=True),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("created_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "kind IN ('production_site', 'packing_house', 'warehouse', 'shop')",
            name=op.f("ck_epcis_location_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_epcis_location")),
        sa.UniqueConstraint("uri", name=op.f("uq_epcis_location_uri")),
        schema=SCHEMA,
    )
    op.create_index("ix_epcis_location_entity", "epcis_location", ["entity_id", "name"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("epcis_location", schema=SCHEMA)
    op.drop_table("epcis_event_epc", schema=SCHEMA)
    op.drop_table("epcis_event", schema=SCHEMA)
    op.drop_table("epcis_capture_job", schema=SCHEMA)
