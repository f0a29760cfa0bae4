"""Product, its change history, product-code sequences and stored media."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)  # fmt: skip
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.db import Base
from shared.models import CreatedAt, Timestamps, UUIDPrimaryKey

PRODUCT_STATUSES = ("idea", "business_plan", "implementing", "ready_for_evaluation", "certified", "lapsed")
CERTIFICATE_STATUSES = ("active", "expiring", "expired", "revoked", "superseded")
# A certificate in one of these states is in force until its expiry date ("expiring" is still valid).
CURRENT_CERTIFICATE_STATUSES = ("active", "expiring")
CERTIFICATE_LEVELS = ("district", "province", "central")


class Product(UUIDPrimaryKey, Timestamps, Base):
    """An OCOP product of one entity, from idea to certified (or lapsed)."""

    __tablename__ = "product"
    __table_args__ = (
        CheckConstraint("product_set BETWEEN 1 AND 26", name="product_set_range"),
        CheckConstraint(f"status IN {PRODUCT_STATUSES}", name="status"),
        CheckConstraint("ocop_star BETWEEN 1 AND 5", name="ocop_star_range"),
        CheckConstraint(f"certificate_status IN {CERTIFICATE_STATUSES}", name="certificate_status"),
        CheckConstraint(f"certificate_level IN {CERTIFICATE_LEVELS}", name="certificate_level"),
        UniqueConstraint("entity_id", "name", name="entity_name"),
        UniqueConstraint("entity_id", "external_id", name="entity_external_id"),
        Index("ix_product_entity_id", "entity_id"),
        Index("ix_product_commune_code", "commune_code"),
        Index("ix_product_status", "status"),
        Index(
            "ix_product_name_folded_trgm",
            "name_folded",
            postgresql_using="gin",
            postgresql_ops={"name_folded": "extensions.gin_trgm_ops"},
        ),
    )

    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entity.id"))
    product_code: Mapped[str] = mapped_column(String(40), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(255))
    name_en: Mapped[str | None] = mapped_column(String(255))
    name_folded: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    story: Mapped[str | None] = mapped_column(Text)
    classification: Mapped[str] = mapped_column(String(10), default="148")
    product_set: Mapped[int] = mapped_column(SmallInteger)
    product_group: Mapped[str] = mapped_column(String(30))
    sector: Mapped[str] = mapped_column(String(60))
    gtin: Mapped[str | None] = mapped_column(String(14), unique=True)
    images: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")
    status: Mapped[str] = mapped_column(String(30), default="idea")
    commune_code: Mapped[str] = mapped_column(String(10))
    province_code: Mapped[str] = mapped_column(String(10))
    # Written only by products.service.apply_certification (scoring's certificate events).
    ocop_star: Mapped[int | None] = mapped_column(SmallInteger)
    certificate_number: Mapped[str | None] = mapped_column(String(60))
    certificate_issued_on: Mapped[date | None] = mapped_column(Date)
    certificate_expires_on: Mapped[date | None] = mapped_column(Date)
    certificate_status: Mapped[str | None] = mapped_column(String(20))
    certificate_level: Mapped[str | None] = mapped_column(String(20))
    certificate_authority: Mapped[str | None] = mapped_column(String(255))
    certificate_decision_number: Mapped[str | None] = mapped_column(String(60))
    certificate_revocation_ground: Mapped[str | None] = mapped_column(Text)
    # Issue date of the first active certificate the product ever carried (its rating year in the
    # statistics); a trigger of migration 0004 keeps it, so every writer of certificates agrees.
    first_certified_on: Mapped[date | None] = mapped_column(Date)


# The public catalogue lists certified products whose certificate is in force: active, or expiring
# (its 30-day notice: still valid until its expiry date, OCOP-DOMAIN.md §4). Partial indexes keep it
# on small, hot structures: one in the keyset order of each sort (catalogue/repository.py), and a
# trigram index for its text search, so a search never reads the products outside the catalogue.
CATALOGUE_ROWS = text("status = 'certified' AND certificate_status IN ('active', 'expiring')")
Index("ix_product_catalogue_name", Product.name_folded, Product.id, postgresql_where=CATALOGUE_ROWS)
# A province's own portal lists its products: the province first, in name order.
Index(
    "ix_product_catalogue_province",
    Product.province_code,
    Product.name_folded,
    Product.id,
    postgresql_where=CATALOGUE_ROWS,
)
Index(
    "ix_product_catalogue_star",
    Product.ocop_star.desc(),
    Product.name_folded,
    Product.id,
    postgresql_where=CATALOGUE_ROWS,
)
Index(
    "ix_product_catalogue_issued",
    Product.certificate_issued_on.desc(),
    Product.name_folded,
    Product.id,
    postgresql_where=CATALOGUE_ROWS,
)
Index(
    "ix_product_catalogue_name_trgm",
    Product.name_folded,
    postgresql_using="gin",
    postgresql_ops={"name_folded": "extensions.gin_trgm_ops"},
    postgresql_where=CATALOGUE_ROWS,
)


class ProductChange(Base):
    """One change to a product: who, when, what (field → [old, new])."""

    __tablename__ = "product_change"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"), index=True)
    changed_at: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(120))
    actor_role: Mapped[str] = mapped_column(String(30))
    action: Mapped[str] = mapped_column(String(30))
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class Certificate(UUIDPrimaryKey, Timestamps, Base):
    """A certificate scoring announced, as the registry last heard of it (the product row holds the current one).

    Written only by products.service.apply_certification; its numbers are unique per issuing authority.
    """

    __tablename__ = "certificate"
    __table_args__ = (
        UniqueConstraint("issuing_authority", "certificate_number", name="authority_number"),
        CheckConstraint("ocop_star BETWEEN 3 AND 5", name="ocop_star_certified"),
        CheckConstraint(f"status IN {CERTIFICATE_STATUSES}", name="status"),
        CheckConstraint(f"level IN {CERTIFICATE_LEVELS}", name="level"),
        CheckConstraint("expires_on > issued_on", name="validity"),
    )

    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"), index=True)
    issuing_authority: Mapped[str] = mapped_column(String(255))
    certificate_number: Mapped[str] = mapped_column(String(60))
    decision_number: Mapped[str | None] = mapped_column(String(60))
    criteria_version: Mapped[str | None] = mapped_column(String(10))
    ocop_star: Mapped[int] = mapped_column(SmallInteger)
    level: Mapped[str] = mapped_column(String(20))
    issued_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    revocation_ground: Mapped[str | None] = mapped_column(Text)


class ProductCodeSequence(Base):
    """The last sequence number used for product codes of one commune in one year."""

    __tablename__ = "product_code_sequence"

    commune_code: Mapped[str] = mapped_column(String(10), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)


class Media(CreatedAt, Base):
    """An uploaded image, stored once by the SHA-256 of its content."""

    __tablename__ = "media"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(60))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
