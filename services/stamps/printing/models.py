"""Who downloaded which print file: the audit of TRACEABILITY §4.2 (leak attribution)."""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, CheckConstraint, Identity, Index, Integer, String
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.stamps.db import Base
from shared.models import CreatedAt

PRINT_FORMATS = ("csv", "zip", "pdf", "svg", "png")


class PrintDownload(CreatedAt, Base):
    """One print file handed out: a batch's CSV, ZIP or PDF, or one stamp's QR (``serial`` set)."""

    __tablename__ = "print_download"
    __table_args__ = (
        CheckConstraint(f"format IN {PRINT_FORMATS}", name="format"),
        Index("ix_print_download_batch", "batch_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    batch_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    serial: Mapped[str | None] = mapped_column(String(18))
    format: Mapped[str] = mapped_column(String(4))
    # How many stamps the file holds (1 for a QR).
    stamps: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(30))
