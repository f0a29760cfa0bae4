"""The verification answer and the resolver description, as documented (the route writes them with orjson)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field

from shared.schemas import BaseSchema, NotBool, ReadSchema


class RiskRead(ReadSchema):
    """The risk from the counterfeit rules: 0–100 and its band."""

    score: int
    band: Literal["normal", "caution", "suspected"]


class StampStateRead(ReadSchema):
    """The stamp's lifecycle state and what activation bound to it."""

    state: str
    lot: str | None
    production_date: date | None
    expiry_date: date | None
    expired: bool
    activated_at: datetime | None


class ProductBrief(ReadSchema):
    """The stamped product."""

    id: uuid.UUID
    code: str | None
    name: str | None
    name_en: str | None
    image: str | None
    gtin: str


class ProducerBrief(ReadSchema):
    """Its producer."""

    id: uuid.UUID
    name: str | None


class OriginRead(ReadSchema):
    """Where the product is from."""

    commune: str | None
    province: str | None
    province_code: str


class CertificateBrief(ReadSchema):
    """Its OCOP certificate and whether it is in force today."""

    number: str
    star: int
    level: str
    status: str
    verdict: Literal["certified", "expiring", "expired", "revoked", "none"]
    issued_on: date
    expires_on: date
    issuing_authority: str


class VerificationsRead(ReadSchema):
    """How often, since when and where the stamp has been verified, this scan included."""

    count: int
    first_at: datetime
    first_province: str | None
    you_are_first: bool


class VerificationRead(ReadSchema):
    """The verdict on one scanned stamp (404 with ``outcome: unknown`` for a code that is no stamp of ours)."""

    outcome: Literal["genuine", "caution", "suspected", "revoked", "not_activated", "unknown"]
    reasons: list[str]
    rules: list[str]
    risk: RiskRead
    serial: str
    serial_grouped: str
    uri: str
    scanned_at: datetime
    stamp: StampStateRead | None
    product: ProductBrief | None
    producer: ProducerBrief | None
    origin: OriginRead | None
    certificate: CertificateBrief | None
    verifications: VerificationsRead | None


class ResolverDescription(ReadSchema):
    """GS1's resolver description file."""

    name: str
    resolverRoot: str
    supportedPrimaryKeys: list[str]
    supportedLinkType: list[dict[str, str]]
    linkTypeDefaultCanBeLinkset: bool
    linkTypeDefaultCanBeAll: bool
    validatesAIcombination: bool
    supportedLinkTypes: list[str]
    shortLink: str


class ScanLocation(BaseSchema):
    """A location the consumer consented to share from a scan's page (the browser's Geolocation API)."""

    lat: Annotated[float, NotBool, Field(ge=-90, le=90, allow_inf_nan=False, description="Latitude, WGS 84")]
    lon: Annotated[
        float, NotBool, Field(ge=-180, le=180, allow_inf_nan=False, description="Longitude, WGS 84")
    ]
    accuracy: Annotated[float, NotBool, Field(ge=0, le=100_000, allow_inf_nan=False)] | None = Field(
        default=None, description="Accuracy radius in metres"
    )
