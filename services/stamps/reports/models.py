"""The consumer report table (migration 0012), written only by this package."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, String, Text, func
from sqlalchemy.dialects.postgresql import BYTEA, TIMESTAMP, UUID
from sqlalchemy.orm import Mapped, deferred, mapped_column

from services.stamps.db import Base

TS = TIMESTAMP(timezone=True)
KINDS = ("suspected_fake", "stamp_damaged", "product_mismatch", "expired", "other")


class ConsumerReport(Base):
    """What a consumer reported about a scanned (or typed) stamp, and how an officer closed it."""

    __tablename__ = "consumer_report"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'resolved')", name="status"),
        CheckConstraint(f"kind IN {KINDS}", name="kind"),
        CheckConstraint("(photo IS NULL) = (photo_type IS NULL)", name="photo"),
        Index("ix_consumer_report_province", "province_code", "status", "created_at"),
        Index("ix_consumer_report_entity", "entity_id", "created_at"),
        Index("ix_consumer_report_serial", "serial"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    serial: Mapped[str] = mapped_column(String(18))
    # The scan whose page the report was sent from (None: a serial typed in).
    scan_id: Mapped[int | None] = mapped_column(BigInteger)
    scanned_at: Mapped[datetime | None] = mapped_column(TS)
    kind: Mapped[str] = mapped_column(String(24))
    description: Mapped[str] = mapped_column(Text)
    shop_name: Mapped[str | None] = mapped_column(String(200))
    shop_address: Mapped[str | None] = mapped_column(String(500))
    # Loaded only when the photo itself is asked for.
    photo: Mapped[bytes | None] = deferred(mapped_column(BYTEA))
    photo_type: Mapped[str | None] = mapped_column(String(16))
    batch_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    product_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    entity_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # The province whose officers review it: the stamp's, else where the scan was located.
    province_code: Mapped[str | None] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(10), server_default="open")
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[datetime | None] = mapped_column(TS)
    resolution_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TS, server_default=func.now())
