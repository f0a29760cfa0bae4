"""Products, producers and certificates as the registry and scoring last announced them to stamps."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Index, SmallInteger, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, TIMESTAMP, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.stamps.db import Base


class ProductSnapshot(Base):
    """A product as the newest ``registry.product.updated`` stamps has received says."""

    __tablename__ = "product_snapshot"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    # The registry's snapshot version: an older snapshot never replaces a newer one.
    version: Mapped[int] = mapped_column(BigInteger)
    entity_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    # The producer's name when the product last changed; entity_snapshot holds a newer one, if any.
    entity_legal_name: Mapped[str] = mapped_column(String(255))
    product_code: Mapped[str] = mapped_column(String(40))
    gtin: Mapped[str | None] = mapped_column(String(14))
    name: Mapped[str] = mapped_column(String(255))
    name_en: Mapped[str | None] = mapped_column(String(255))
    images: Mapped[list[str]] = mapped_column(ARRAY(Text))
    status: Mapped[str] = mapped_column(String(30))
    commune_code: Mapped[str] = mapped_column(String(10))
    commune_name: Mapped[str | None] = mapped_column(String(255))
    province_code: Mapped[str] = mapped_column(String(10))
    province_name: Mapped[str | None] = mapped_column(String(255))
    registry_updated_at: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True))
    received_at: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True), server_default=func.now())


class EntitySnapshot(Base):
    """A producer as the newest ``registry.entity.updated`` stamps has received says."""

    __tablename__ = "entity_snapshot"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    # From the same sequence as the products' versions: the larger of the two names is the newer.
    version: Mapped[int] = mapped_column(BigInteger)
    legal_name: Mapped[str] = mapped_column(String(255))
    registry_updated_at: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True))
    received_at: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True), server_default=func.now())


class CertificateSnapshot(Base):
    """A certificate as the newest ``scoring.certificate.*`` stamps has received says."""

    __tablename__ = "certificate_snapshot"
    __table_args__ = (Index("ix_certificate_snapshot_product", "product_id", "issued_on"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    product_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    number: Mapped[str] = mapped_column(String(60))
    star: Mapped[int] = mapped_column(SmallInteger)
    level: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(12))
    issued_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date] = mapped_column(Date)
    issuing_authority: Mapped[str] = mapped_column(String(255))
    revocation_ground: Mapped[str | None] = mapped_column(Text)
    superseded_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    received_at: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True), server_default=func.now())
