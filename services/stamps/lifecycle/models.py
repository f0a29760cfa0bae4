"""The stamp table and its audit: one change per lifecycle operation, one item per stamp it moved."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Date, Identity, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.stamps.db import Base

STAMP_STATES = ("reserved", "issued", "active", "suspended", "revoked", "void")
ACTIONS = ("issue", "activate", "suspend", "unsuspend", "revoke", "void")
# A change runs at once (done when the request answers) or as a background job: queued, running, done or failed.
CHANGE_STATUSES = ("queued", "running", "done", "failed")


class Stamp(Base):
    """One e-stamp: its serial (the primary key: unique, random), its batch and where it stands.

    Written in bulk by COPY at generation (serial, batch, state: services/stamps/batches/runner.py),
    then changed only by this package.
    """

    __tablename__ = "stamp"
    __table_args__ = (
        CheckConstraint(f"state IN {STAMP_STATES}", name="state"),
        # A whole-batch change walks its batch in serial order, a chunk at a time (migration 0010).
        Index("ix_stamp_batch_serial", "batch_id", "serial"),
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
    """One lifecycle operation: who did what, why, on which selection, and how many stamps it moved.

    A whole batch of more than ``STAMPS_LIFECYCLE_SYNC_MAX`` stamps is changed by a background job
    (services/stamps/lifecycle/runner.py), a chunk per transaction: ``after_serial`` is the last serial of
    the batch it has passed (in serial order), ``requested`` how many it has passed, ``by_state`` their
    states before; each chunk advances them in the transaction that moves its stamps.
    """

    __tablename__ = "stamp_change"
    __table_args__ = (
        CheckConstraint(f"action IN {ACTIONS}", name="action"),
        CheckConstraint(f"status IN {CHANGE_STATUSES}", name="status"),
        Index("ix_stamp_change_batch", "batch_id", "id"),
        Index("ix_stamp_change_pending", "id", postgresql_where=text("status IN ('queued', 'running')")),
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
    status: Mapped[str] = mapped_column(String(8), server_default="done")
    # A job's: the batch's stamps when it was queued, and how far it went.
    total: Mapped[int | None] = mapped_column(Integer)
    after_serial: Mapped[str | None] = mapped_column(String(18))
    by_state: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    started_at: Mapped[datetime | None] = mapped_column(TIMESTAMP(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(TIMESTAMP(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    # activate: the producer's site named as the commissioning events' readPoint and bizLocation.
    location_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))


class StampChangeItem(Base):
    """One stamp moved by one operation, from one state to another."""

    __tablename__ = "stamp_change_item"

    serial: Mapped[str] = mapped_column(String(18), primary_key=True)
    change_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    from_state: Mapped[str] = mapped_column(String(12))
    to_state: Mapped[str] = mapped_column(String(12))
