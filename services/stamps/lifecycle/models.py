"""The stamp table and its audit: one change per lifecycle operation, one item per stamp it moved."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, Identity, Index, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import TIMESTAMP, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.stamps.db import Base

STAMP_STATES = ("reserved", "issued", "active", "suspended", "revoked", "void")
ACTIONS = ("issue", "activate", "suspend", "unsuspend", "revoke", "void")


class Stamp(Base):
    """One e-stamp: its serial (the primary key: unique, random), its batch and where it stands.

    Written in bulk by COPY at generation (serial, batch, state: services/stamps/batches/runner.py),
    then changed only by this package.
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


class StampChange(Base):
    """One lifecycle operation: who did what, why, on which selection, and how many stamps it moved."""

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
    """One stamp moved by one operation, from one state to another."""

    __tablename__ = "stamp_change_item"

    serial: Mapped[str] = mapped_column(String(18), primary_key=True)
    change_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    from_state: Mapped[str] = mapped_column(String(12))
    to_state: Mapped[str] = mapped_column(String(12))
