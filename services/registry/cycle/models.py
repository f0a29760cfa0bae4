"""Idea registration and business plan tables."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, func
from sqlalchemy.dialects.postgresql import TIMESTAMP, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.db import Base

REVIEW_STATES = ("draft", "submitted", "approved", "returned")


class IdeaRegistration(Base):
    """A product-idea registration (Form 1/2 of the cycle's step 2) for one product."""

    __tablename__ = "idea"
    __table_args__ = (
        CheckConstraint(f"status IN {REVIEW_STATES}", name="status"),
        Index("ix_idea_commune_code", "commune_code"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
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
    created_at: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        TIMESTAMP(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class BusinessPlan(Base):
    """The business plan (phương án sản xuất kinh doanh) that follows an approved idea."""

    __tablename__ = "business_plan"
    __table_args__ = (
        CheckConstraint(f"status IN {REVIEW_STATES}", name="status"),
        CheckConstraint("budget_vnd >= 0", name="budget_not_negative"),
        Index("ix_business_plan_commune_code", "commune_code"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
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
    created_at: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        TIMESTAMP(timezone=True), server_default=func.now(), onupdate=func.now()
    )
