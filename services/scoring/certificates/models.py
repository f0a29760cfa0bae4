"""The certificate table and the per-authority number counters."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import Date, Index, Integer, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.scoring.db import Base
from shared.models import Timestamps, UUIDPrimaryKey


class Certificate(UUIDPrimaryKey, Timestamps, Base):
    """An OCOP certificate: the decision on one result, its validity and where it stands.

    ``version`` grows with every change, and every change emits a ``scoring.certificate.*`` event
    (services/scoring/certificates/events.py) that carries it.
    """

    __tablename__ = "certificate"
    __table_args__ = (
        # Numbers are unique outright (so unique per authority and year): the public lookup is unambiguous.
        UniqueConstraint("number"),
        UniqueConstraint("result_id"),
        Index("ix_certificate_product", "product_id", "issued_on"),
        Index("ix_certificate_status_expiry", "status", "expires_on"),
    )

    number: Mapped[str] = mapped_column(String(60))
    issued_year: Mapped[int] = mapped_column(SmallInteger)
    issuing_authority: Mapped[str] = mapped_column(String(255))
    decision_number: Mapped[str] = mapped_column(String(60))
    star: Mapped[int] = mapped_column(SmallInteger)
    level: Mapped[str] = mapped_column(String(20))
    criteria_version: Mapped[str] = mapped_column(String(20))
    product_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    entity_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    province_code: Mapped[str] = mapped_column(String(2))
    commune_code: Mapped[str | None] = mapped_column(String(5))
    product_set: Mapped[int] = mapped_column(SmallInteger)
    product_name: Mapped[str] = mapped_column(String(255))
    entity_name: Mapped[str] = mapped_column(String(255))
    application_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    result_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    issued_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    status_changed_on: Mapped[date] = mapped_column(Date)
    revocation_ground: Mapped[str | None] = mapped_column(String(40))
    revocation_reason: Mapped[str | None] = mapped_column(Text)
    superseded_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    version: Mapped[int] = mapped_column(Integer, default=1)

    @property
    def valid(self) -> bool:
        """Whether the certificate is in force (an expiring one still is)."""
        return self.status in ("active", "expiring")


class CertificateNumberCounter(Base):
    """The last sequence number of a number series in a year (``22``: the province and its districts; ``TW``).

    Counting per series rather than per authority keeps numbers unique even where two authorities
    share a series (a province and its former districts; the ministry before and after its 2025 rename).
    """

    __tablename__ = "certificate_number_counter"

    series: Mapped[str] = mapped_column(String(20), primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)
