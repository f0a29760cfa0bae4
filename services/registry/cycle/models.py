"""Idea registration and business plan tables."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import TIMESTAMP
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.db import Base
from shared.models import Timestamps, UUIDPrimaryKey

REVIEW_STATES = ("draft", "submitted", "approved", "returned")


class IdeaRegistration(UUIDPrimaryKey, Timestamps, Base):
    """A product-idea registration (Form 1/2 of the cycle's step 2) for one product."""

    __tablename__ = "idea"
    __table_args__ = (
        CheckConstraint(f"status IN {REVIEW_STATES}", name="status"),
        Index("ix_idea_commune_code", "commune_code"),
    )

    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entity.id"), index=True)
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("product.id"), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    raw_materials: Mapped[str | None] = mapped_column(Text)
    commune_code: Mapped[str] = mapped_column(String(10))
    province_code: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    return_reason: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None] = mapped_column(TIMESTAMP(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(TIMESTAMP(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(120))


class BusinessPlan(UUIDPrimaryKey, Timestamps, Base):
    """The business plan (phương án sản xuất kinh doanh) that follows an approved idea."""

    __tablename__ = "business_plan"
    __table_args__ = (
        CheckConstraint(f"status IN {REVIEW_STATES}", name="status"),
        CheckConstraint("budget_vnd >= 0", name="budget_not_negative"),
        Index("ix_business_plan_commune_code", "commune_code"),
    )

    idea_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("idea.id"), unique=True)
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entity.id"), index=True)
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("product.id"))
    summary: Mapped[str] = mapped_column(Text)
    market: Mapped[str | None] = mapped_column(Text)
    budget_vnd: Mapped[int | None] = mapped_column(BigInteger)
    commune_code: Mapped[str] = mapped_column(String(10))
    province_code: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    return_reason: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None] = mapped_column(TIMESTAMP(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(TIMESTAMP(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(120))
