"""Administrative unit and succession tables."""

from __future__ import annotations

from datetime import date

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.db import Base


class AdminUnit(Base):
    """A province, district or commune as it existed between ``valid_from`` and ``valid_to``.

    Codes are reused across reforms (07090 was a commune before 1 July 2025 and names a merged
    ward after it), so a unit is identified by ``id``; ``(code, valid_from)`` is unique.
    """

    __tablename__ = "admin_unit"
    __table_args__ = (
        UniqueConstraint("code", "valid_from", name="code_valid_from", postgresql_nulls_not_distinct=True),
        CheckConstraint("level IN ('province', 'district', 'commune')", name="level"),
        CheckConstraint("valid_to IS NULL OR valid_from IS NULL OR valid_to > valid_from", name="validity"),
        Index("ix_admin_unit_code", "code"),
        Index("ix_admin_unit_parent_code", "parent_code"),
        Index(
            "ix_admin_unit_name_folded_trgm",
            "name_folded",
            postgresql_using="gin",
            postgresql_ops={"name_folded": "extensions.gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(120))
    name_folded: Mapped[str] = mapped_column(String(120))
    level: Mapped[str] = mapped_column(String(10))
    unit_type: Mapped[str] = mapped_column(String(30))
    parent_code: Mapped[str | None] = mapped_column(String(10))
    province_code: Mapped[str] = mapped_column(String(10))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)


class AdminUnitSuccession(Base):
    """``predecessor`` became (all or ``partial``-ly) part of ``successor`` on the successor's valid_from."""

    __tablename__ = "admin_unit_succession"

    predecessor_id: Mapped[int] = mapped_column(
        ForeignKey("admin_unit.id", ondelete="CASCADE"), primary_key=True
    )
    successor_id: Mapped[int] = mapped_column(
        ForeignKey("admin_unit.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    partial: Mapped[bool] = mapped_column(Boolean, default=False)
