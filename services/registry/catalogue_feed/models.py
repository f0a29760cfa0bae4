"""The catalogue_publication table: what was last published of each product that has been public."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, func
from sqlalchemy.dialects.postgresql import TIMESTAMP, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.db import Base


class CataloguePublication(Base):
    """The hash of the public record last announced for a product, and whether it is in the catalogue."""

    __tablename__ = "catalogue_publication"

    product_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("registry.product.id", ondelete="CASCADE"), primary_key=True
    )
    # sha256 of the record's JSON text as GET /v1/catalogue/{id} serves it; null once removed.
    record_hash: Mapped[str | None] = mapped_column(String(64))
    in_catalogue: Mapped[bool] = mapped_column(Boolean)
    published_at: Mapped[datetime] = mapped_column(
        TIMESTAMP(timezone=True), server_default=func.now(), onupdate=func.now()
    )
