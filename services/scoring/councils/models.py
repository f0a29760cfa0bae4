"""Council, council member and round tables."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import TIMESTAMP
from sqlalchemy.orm import Mapped, mapped_column

from services.scoring.db import Base
from shared.models import CreatedAt, Timestamps, UUIDPrimaryKey

# "district": history only — district councils decided 3★ under 781 and 148 until 1489 abolished
# them (1 July 2025); they are recorded (the demo's history), never set up or given rounds today.
LEVELS = ("province", "central", "district")
LIVE_LEVELS = ("province", "central")
MEMBER_ROLES = ("chair", "member", "secretary")
ROUND_STATES = ("open", "closed")


class Council(UUIDPrimaryKey, Timestamps, Base):
    """A council that scores products: a province's (of one province) or the central one."""

    __tablename__ = "council"
    __table_args__ = (
        CheckConstraint(f"level IN {LEVELS}", name="level"),
        # A province's (or one of its former districts') council belongs to it; the central council to none.
        CheckConstraint(
            "(level IN ('province', 'district') AND province_code ~ '^[0-9]{2}$')"
            " OR (level = 'central' AND province_code IS NULL)",
            name="level_province",
        ),
        CheckConstraint("quorum > 0 AND quorum <= 1", name="quorum_ratio"),
        CheckConstraint("max_spread >= 0 AND max_spread <= 100", name="max_spread_range"),
        Index("ix_council_province_code", "province_code"),
    )

    name: Mapped[str] = mapped_column(String(255))
    level: Mapped[str] = mapped_column(String(20))
    province_code: Mapped[str | None] = mapped_column(String(2))
    quorum: Mapped[Decimal] = mapped_column(Numeric(4, 3), default=Decimal("0.75"))
    quorum_includes_chair: Mapped[bool] = mapped_column(Boolean, default=True)
    max_spread: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal(10))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class CouncilMember(UUIDPrimaryKey, CreatedAt, Base):
    """One person on a council: the subject of their council_member principal and their role."""

    __tablename__ = "council_member"
    __table_args__ = (
        CheckConstraint(f"role IN {MEMBER_ROLES}", name="role"),
        UniqueConstraint("council_id", "sub"),
        # At most one chair per council (scoring needs exactly one: checked when a pass opens).
        Index(
            "uq_council_member_one_chair", "council_id", unique=True, postgresql_where=text("role = 'chair'")
        ),
    )

    council_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("council.id"))
    sub: Mapped[str] = mapped_column(String(200))
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))


class Round(UUIDPrimaryKey, Timestamps, Base):
    """A scoring round of one council (its level and province copied from the council), open or closed."""

    __tablename__ = "round"
    __table_args__ = (
        CheckConstraint(f"level IN {LEVELS}", name="level"),
        CheckConstraint(f"status IN {ROUND_STATES}", name="status"),
        Index("ix_round_council_id", "council_id"),
        Index("ix_round_province_code", "province_code"),
    )

    council_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("council.id"))
    level: Mapped[str] = mapped_column(String(20))
    province_code: Mapped[str | None] = mapped_column(String(2))
    name: Mapped[str] = mapped_column(String(255))
    cut_off: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="open")
    closed_at: Mapped[datetime | None] = mapped_column(TIMESTAMP(timezone=True))
