"""Entity table."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
)  # fmt: skip
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.db import Base
from shared.models import Timestamps, UUIDPrimaryKey

ENTITY_TYPES = ("enterprise", "cooperative", "cooperative_group", "household_business")


class Entity(UUIDPrimaryKey, Timestamps, Base):
    """A producer that owns OCOP products."""

    __tablename__ = "entity"
    __table_args__ = (
        CheckConstraint(f"entity_type IN {ENTITY_TYPES}", name="entity_type"),
        CheckConstraint("representative_gender IN ('female', 'male', 'other')", name="representative_gender"),
        CheckConstraint("members_count >= 0 AND local_workers_count >= 0", name="counts_not_negative"),
        CheckConstraint("raw_material_area_ha >= 0", name="area_not_negative"),
        Index("ix_entity_commune_code", "commune_code"),
        Index("ix_entity_province_code", "province_code"),
        Index(
            "ix_entity_name_folded_trgm",
            "name_folded",
            postgresql_using="gin",
            postgresql_ops={"name_folded": "extensions.gin_trgm_ops"},
        ),
    )

    entity_type: Mapped[str] = mapped_column(String(30))
    legal_name: Mapped[str] = mapped_column(String(255))
    name_folded: Mapped[str] = mapped_column(String(255))
    tax_code: Mapped[str] = mapped_column(String(14), unique=True)
    business_registration_no: Mapped[str | None] = mapped_column(String(50))
    business_registration_date: Mapped[date | None] = mapped_column(Date)
    business_registration_authority: Mapped[str | None] = mapped_column(String(255))
    representative_name: Mapped[str] = mapped_column(String(120))
    representative_gender: Mapped[str | None] = mapped_column(String(10))
    representative_ethnicity: Mapped[str | None] = mapped_column(String(50))
    address: Mapped[str | None] = mapped_column(Text)
    # The commune at registration; a record keeps it after a reform (resolve successors for today's unit).
    admin_unit_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"))
    commune_code: Mapped[str] = mapped_column(String(10))
    province_code: Mapped[str] = mapped_column(String(10))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    website: Mapped[str | None] = mapped_column(String(255))
    members_count: Mapped[int | None] = mapped_column(Integer)
    local_workers_count: Mapped[int | None] = mapped_column(Integer)
    raw_material_area_ha: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    certifications: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list, server_default="{}")
    gs1_company_prefix: Mapped[str | None] = mapped_column(String(12))
