"""The audit of the stamp lifecycle: one row per operation, one item per stamp it changed."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, Identity, Index, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import TIMESTAMP, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.stamps.db import Base

ACTIONS = ("issue", "activate", "suspend", "unsuspend", "revoke", "void")


class StampChange(Base):
    """One lifecycle operation: who, when, why, on which stamps (a batch or a list)."""

    __tablename__ = "stamp_change"
    __table_args__ = (
        CheckConstraint(f"action IN {ACTIONS}", name="action"),
        Index("ix_stamp_change_batch", "batch_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    action: Mapped[str] = mapped_column(String(10))
    actor: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str | None] = mapped_column(Text)
    batch_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    lot: Mapped[str | None] = mapped_column(String(20))
    production_date: Mapped[date | None] = mapped_column(Date)
    expiry_date: Mapped[date | None] = mapped_column(Date)
    requested: Mapped[int] = mapped_column(Integer)
    changed: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True), server_default=func.now())


class StampChangeItem(Base):
    """One stamp an operation changed, from which state to which."""

    __tablename__ = "stamp_change_item"

    serial: Mapped[str] = mapped_column(String(18), primary_key=True)
    change_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    from_state: Mapped[str] = mapped_column(String(12))
    to_state: Mapped[str] = mapped_column(String(12))
