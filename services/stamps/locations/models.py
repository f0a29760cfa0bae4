"""A producer's site as an EPCIS location."""

from __future__ import annotations

import uuid

from sqlalchemy import CheckConstraint, Double, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.stamps.db import Base
from shared.models import Timestamps, UUIDPrimaryKey

KINDS = ("production_site", "packing_house", "warehouse", "shop")


class Location(UUIDPrimaryKey, Timestamps, Base):
    """A production site, packing house, warehouse or shop: its URI (SGLN, or ours), place and owner."""

    __tablename__ = "epcis_location"
    __table_args__ = (
        CheckConstraint(f"kind IN {KINDS}", name="kind"),
        UniqueConstraint("uri", name="uq_epcis_location_uri"),
        Index("ix_epcis_location_entity", "entity_id", "name"),
    )

    uri: Mapped[str] = mapped_column(Text)
    gln: Mapped[str | None] = mapped_column(String(13))
    entity_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(Text)
    commune_code: Mapped[str | None] = mapped_column(String(10))
    # The commune's name: the registry's (the snapshot's products there), else as its owner gave it.
    commune_name: Mapped[str | None] = mapped_column(String(255))
    province_code: Mapped[str] = mapped_column(String(2))
    latitude: Mapped[float | None] = mapped_column(Double)
    longitude: Mapped[float | None] = mapped_column(Double)
