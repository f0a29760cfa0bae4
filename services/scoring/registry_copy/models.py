"""The registry's products and entities as the registry last announced them to scoring."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, SmallInteger, String, func
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.scoring.db import Base


class RegistryProduct(Base):
    """A product as the newest ``registry.product.updated`` snapshot scoring has received says."""

    __tablename__ = "registry_product"
    __table_args__ = (Index("ix_registry_product_entity_id", "entity_id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    # The registry's snapshot version: an older snapshot never replaces a newer one.
    version: Mapped[int] = mapped_column(BigInteger)
    entity_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    product_code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(30))
    ocop_star: Mapped[int | None] = mapped_column(SmallInteger)
    province_code: Mapped[str] = mapped_column(String(10))
    commune_code: Mapped[str] = mapped_column(String(10))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONB)
    registry_updated_at: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True))
    received_at: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True), server_default=func.now())


class RegistryEntity(Base):
    """An entity as the newest ``registry.entity.updated`` snapshot scoring has received says."""

    __tablename__ = "registry_entity"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    legal_name: Mapped[str] = mapped_column(String(255))
    entity_type: Mapped[str] = mapped_column(String(30))
    tax_code: Mapped[str] = mapped_column(String(14))
    province_code: Mapped[str] = mapped_column(String(10))
    commune_code: Mapped[str] = mapped_column(String(10))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONB)
    registry_updated_at: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True))
    received_at: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True), server_default=func.now())
