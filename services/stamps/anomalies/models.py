"""The anomaly and stamp risk tables (migration 0006), written only by the anomaly detector and the queue."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, SmallInteger, String, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TIMESTAMP, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.stamps.db import Base

TS = TIMESTAMP(timezone=True)


class Anomaly(Base):
    """A counterfeit signal for officers to review: one rule fired on one scan."""

    __tablename__ = "anomaly"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'resolved')", name="status"),
        CheckConstraint("score BETWEEN 0 AND 100", name="score"),
        Index("ix_anomaly_status", "status", "created_at"),
        Index("ix_anomaly_province", "province_code", "status", "created_at"),
        Index("ix_anomaly_serial", "serial", "rule"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    rule: Mapped[str] = mapped_column(String(4))
    score: Mapped[int] = mapped_column(SmallInteger)
    serial: Mapped[str | None] = mapped_column(String(18))
    batch_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    product_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    entity_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # The province whose officers review it: the stamp's (its batch's), else where the scan was.
    province_code: Mapped[str | None] = mapped_column(String(2))
    scan_id: Mapped[int | None] = mapped_column(BigInteger)
    scanned_at: Mapped[datetime | None] = mapped_column(TS)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    status: Mapped[str] = mapped_column(String(10), server_default="open")
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[datetime | None] = mapped_column(TS)
    resolution_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TS, server_default=func.now())


class StampRisk(Base):
    """What the rules over a stamp's scan history last concluded; the next verification shows it."""

    __tablename__ = "stamp_risk"
    __table_args__ = (CheckConstraint("risk_score BETWEEN 0 AND 100", name="score"),)

    serial: Mapped[str] = mapped_column(String(18), primary_key=True)
    risk_score: Mapped[int] = mapped_column(SmallInteger)
    rules: Mapped[list[str]] = mapped_column(ARRAY(String(4)), server_default="{}")
    impossible_travel: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(TS, server_default=func.now())


class DetectorState(Base):
    """Where the anomaly detector stands (migration 0010): one row, locked and advanced by each round in the
    transaction that writes the round's anomalies, so a restart resumes exactly where the last round ended."""

    __tablename__ = "anomaly_detector_state"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    # Scans logged up to here are examined; each round reads again ``overlap_s`` behind it.
    watermark: Mapped[datetime] = mapped_column(TS)
    # The scans within the overlap already examined: scan id (as text) → when it was logged (ISO 8601).
    examined: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    # The scans re-examined for a location shared from their page: scan id (as text) → when it was shared.
    relocated: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    updated_at: Mapped[datetime] = mapped_column(TS, server_default=func.now())
