"""The stamp batch table (its stamps are services/stamps/lifecycle/models.py)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import TIMESTAMP, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.stamps.db import Base
from shared.models import Timestamps, UUIDPrimaryKey

BATCH_STATUSES = ("requested", "approved", "rejected", "generating", "generated", "failed")


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
