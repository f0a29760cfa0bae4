"""The EPCIS repository's tables: capture jobs, events (raw JSON plus indexed columns), EPCs per event."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.stamps.db import Base

EVENT_TYPES = (
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
)
EPC_ROLES = (
    "epc", "parent", "child", "input", "output", "quantity", "child_quantity", "input_quantity", "output_quantity",
)  # fmt: skip


class CaptureJob(Base):
    """One captured EPCISDocument: running until its events are stored (or refused), then success or failure."""

    __tablename__ = "epcis_capture_job"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'success', 'failure')", name="status"),
        CheckConstraint("error_behaviour IN ('rollback', 'proceed')", name="error_behaviour"),
        Index("ix_epcis_capture_job_running", "created_at", postgresql_where=text("status = 'running'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    status: Mapped[str] = mapped_column(String(10))
    error_behaviour: Mapped[str] = mapped_column(String(10), server_default="rollback")
    captured_by: Mapped[str] = mapped_column(String(200))
    captured_role: Mapped[str] = mapped_column(String(30))
    captured_scope: Mapped[str | None] = mapped_column(String(100))
    event_count: Mapped[int] = mapped_column(Integer, server_default="0")
    size_bytes: Mapped[int] = mapped_column(Integer, server_default="0")
    document: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    errors: Mapped[list[Any]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(TIMESTAMP(timezone=True))


class EpcisEvent(Base):
    """One EPCIS event: ``doc`` as captured or generated, and the columns queries filter on."""

    __tablename__ = "epcis_event"
    __table_args__ = (
        CheckConstraint(f"type IN {EVENT_TYPES}", name="type"),
        CheckConstraint("origin IN ('capture', 'stamps')", name="origin"),
        UniqueConstraint("event_id", name="uq_epcis_event_event_id"),
        Index("ix_epcis_event_time", "event_time", "id"),
        Index("ix_epcis_event_record_time", "record_time", "id"),
        Index("ix_epcis_event_biz_step", "biz_step", "event_time"),
        Index("ix_epcis_event_biz_location", "biz_location", "event_time"),
        Index("ix_epcis_event_read_point", "read_point", "event_time"),
        Index("ix_epcis_event_entity", "entity_id", "event_time"),
        Index("ix_epcis_event_province", "province_code", "event_time"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    event_id: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(24))
    action: Mapped[str | None] = mapped_column(String(8))
    event_time: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True))
    event_time_zone_offset: Mapped[str] = mapped_column(String(6))
    record_time: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True), server_default=func.now())
    biz_step: Mapped[str | None] = mapped_column(Text)
    disposition: Mapped[str | None] = mapped_column(Text)
    read_point: Mapped[str | None] = mapped_column(Text)
    biz_location: Mapped[str | None] = mapped_column(Text)
    capture_job_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    entity_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    province_code: Mapped[str | None] = mapped_column(String(2))
    origin: Mapped[str] = mapped_column(String(10))
    doc: Mapped[dict[str, Any]] = mapped_column(JSONB)


class EpcisEventEpc(Base):
    """One EPC (or quantity class) an event names, in its canonical form, and in which role."""

    __tablename__ = "epcis_event_epc"
    __table_args__ = (
        CheckConstraint(f"role IN {EPC_ROLES}", name="role"),
        Index("ix_epcis_event_epc_epc", "epc", "event_uuid"),
    )

    event_uuid: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("stamps.epcis_event.id", ondelete="CASCADE"), primary_key=True
    )
    epc: Mapped[str] = mapped_column(Text, primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
