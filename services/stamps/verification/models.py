"""The scan log, the per-stamp scan summary and the daily salts of IP hashes (written by verification)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Double,
    Index,
    Integer,
    SmallInteger,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA, REAL, TIMESTAMP, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.stamps.db import Base
from services.stamps.verification.verdicts import OUTCOMES


class Scan(Base):
    """One resolver hit, also of malformed and unknown codes; range-partitioned by month on ``scanned_at``."""

    __tablename__ = "scan"
    __table_args__ = (
        Index("ix_scan_serial", "serial", "scanned_at"),
        Index("ix_scan_id", "id"),
        Index("ix_scan_ip", "ip_hash", "scanned_at"),
        Index(
            "ix_scan_device", "device_hash", "scanned_at", postgresql_where=text("device_hash IS NOT NULL")
        ),
        Index("ix_scan_batch", "batch_id", "scanned_at", postgresql_where=text("batch_id IS NOT NULL")),
        Index("ix_scan_located", "located_at", postgresql_where=text("located_at IS NOT NULL")),
        Index("ix_scan_first", "batch_id", "scanned_at", postgresql_where=text("first_scan")),
        CheckConstraint(f"verdict IN {OUTCOMES}", name="verdict"),
        {"postgresql_partition_by": "RANGE (scanned_at)"},
    )

    scanned_at: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True), primary_key=True)
    id: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, server_default=text("nextval('stamps.scan_id_seq')")
    )
    serial: Mapped[str | None] = mapped_column(String(18))
    gtin: Mapped[str | None] = mapped_column(String(14))
    lot: Mapped[str | None] = mapped_column(String(20))
    # The path as scanned, when it could not be parsed (first 300 characters).
    path: Mapped[str | None] = mapped_column(String(300))
    batch_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    verdict: Mapped[str] = mapped_column(String(16))
    rules: Mapped[list[str]] = mapped_column(ARRAY(String(4)))
    risk: Mapped[int] = mapped_column(SmallInteger)
    channel: Mapped[str] = mapped_column(String(8))
    ip_hash: Mapped[bytes | None] = mapped_column(BYTEA)
    device_hash: Mapped[bytes | None] = mapped_column(BYTEA)
    user_agent: Mapped[str | None] = mapped_column(String(300))
    latitude: Mapped[float | None] = mapped_column(Double)
    longitude: Mapped[float | None] = mapped_column(Double)
    accuracy_m: Mapped[float | None] = mapped_column(REAL)
    province_code: Mapped[str | None] = mapped_column(String(2))
    # Why a browser's scan was judged as it was (its page shows the verdict of the scan itself); None for
    # apps' scans.
    reasons: Mapped[list[str] | None] = mapped_column(ARRAY(String(32)))
    # When the consumer shared the location from the scan's page (None: none shared there).
    located_at: Mapped[datetime | None] = mapped_column(TIMESTAMP(timezone=True))
    # The serial's first verification ever (its summary had no scan before): what R11 counts, read through
    # ix_scan_first instead of an anti-join over every scan of the batch.
    first_scan: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class StampScan(Base):
    """How often and since when one stamp has been verified: one row per scanned stamp."""

    __tablename__ = "stamp_scan"

    serial: Mapped[str] = mapped_column(String(18), primary_key=True)
    scan_count: Mapped[int] = mapped_column(Integer)
    first_scanned_at: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True))
    first_scan_province: Mapped[str | None] = mapped_column(String(2))
    last_scanned_at: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True))


class ScanSalt(Base):
    """The salt of one day's IP hashes (Vietnam's date); dropped after 30 days."""

    __tablename__ = "scan_salt"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    salt: Mapped[bytes] = mapped_column(BYTEA)
