"""The stamp batch and stamp tables."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, Index, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import TIMESTAMP, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.stamps.db import Base
from shared.models import Timestamps, UUIDPrimaryKey

BATCH_STATUSES = ("requested", "approved", "rejected", "generating", "generated", "failed")
STAMP_STATES = ("reserved", "issued", "active", "suspended", "revoked", "void")


class StampBatch(UUIDPrimaryKey, Timestamps, Base):
    """N stamps of one product (and optionally one lot), from request through generation."""

    __tablename__ = "stamp_batch"
    __table_args__ = (
        CheckConstraint(f"status IN {BATCH_STATUSES}", name="status"),
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("generated >= 0 AND generated <= quantity", name="generated"),
        Index("ix_stamp_batch_entity", "entity_id", "created_at"),
        Index("ix_stamp_batch_status", "status", "created_at"),
    )

    product_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    entity_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    province_code: Mapped[str] = mapped_column(String(2))
    gtin: Mapped[str] = mapped_column(String(14))
    lot: Mapped[str | None] = mapped_column(String(20))
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="requested")
    requested_by: Mapped[str] = mapped_column(String(200))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(TIMESTAMP(timezone=True))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    generated: Mapped[int] = mapped_column(Integer, default=0)
    generation_started_at: Mapped[datetime | None] = mapped_column(TIMESTAMP(timezone=True))
    generation_finished_at: Mapped[datetime | None] = mapped_column(TIMESTAMP(timezone=True))
    generation_error: Mapped[str | None] = mapped_column(Text)


class Stamp(Base):
    """One e-stamp: its serial (the primary key: unique, random), its batch and where it stands.

    Written in bulk by COPY at generation (serial, batch, state), then changed only by the lifecycle
    package (services/stamps/lifecycle).
    """

    __tablename__ = "stamp"
    __table_args__ = (
        CheckConstraint(f"state IN {STAMP_STATES}", name="state"),
        Index("ix_stamp_batch", "batch_id"),
    )

    serial: Mapped[str] = mapped_column(String(18), primary_key=True)
    batch_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    state: Mapped[str] = mapped_column(String(12), default="reserved")
    lot: Mapped[str | None] = mapped_column(String(20))
    production_date: Mapped[date | None] = mapped_column(Date)
    expiry_date: Mapped[date | None] = mapped_column(Date)
    state_changed_at: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True), server_default=func.now())
    activated_at: Mapped[datetime | None] = mapped_column(TIMESTAMP(timezone=True))
    activated_by: Mapped[str | None] = mapped_column(String(200))
    state_reason: Mapped[str | None] = mapped_column(Text)
    # The lifecycle operation (stamp_change) that last changed the state.
    last_change_id: Mapped[int | None] = mapped_column(BigInteger)
