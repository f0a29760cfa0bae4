"""The events' data as stamps reads it (fields it does not keep are ignored), and what it answers."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Verdict = Literal["certified", "expiring", "expired", "revoked", "none"]


class _Read(BaseModel):
    # A producer may add fields to its events: a consumer reads what it needs and ignores the rest.
    model_config = ConfigDict(extra="ignore", frozen=True)


class ProductData(_Read):
    """What stamps keeps of ``registry.product.updated``."""

    id: uuid.UUID
    version: Annotated[int, Field(ge=1)]
    entity_id: uuid.UUID
    entity_legal_name: Annotated[str, Field(min_length=1, max_length=255)]
    product_code: Annotated[str, Field(min_length=1, max_length=40)]
    gtin: Annotated[str | None, Field(pattern=r"^[0-9]{8,14}$")] = None
    name: Annotated[str, Field(min_length=1, max_length=255)]
    name_en: Annotated[str | None, Field(max_length=255)] = None
    images: Annotated[list[str], Field(max_length=10)] = []
    status: Annotated[str, Field(min_length=1, max_length=30)]
    commune_code: Annotated[str, Field(min_length=1, max_length=10)]
    commune_name: Annotated[str | None, Field(max_length=255)] = None
    province_code: Annotated[str, Field(min_length=1, max_length=10)]
    province_name: Annotated[str | None, Field(max_length=255)] = None
    updated_at: datetime


class EntityData(_Read):
    """What stamps keeps of ``registry.entity.updated``."""

    id: uuid.UUID
    version: Annotated[int, Field(ge=1)]
    legal_name: Annotated[str, Field(min_length=1, max_length=255)]
    updated_at: datetime


class CertificateData(_Read):
    """What stamps keeps of ``scoring.certificate.*``."""

    certificate_id: uuid.UUID
    version: Annotated[int, Field(ge=1)]
    product_id: uuid.UUID
    ocop_star: Annotated[int, Field(ge=1, le=5)]
    certificate_number: Annotated[str, Field(min_length=1, max_length=60)]
    issuing_authority: Annotated[str, Field(min_length=1, max_length=255)]
    issued_on: date
    expires_on: date
    level: Literal["district", "province", "central"]
    status: Literal["active", "superseded", "expiring", "expired", "revoked"]
    revocation_ground: str | None = None
    superseded_by: uuid.UUID | None = None


class CurrentCertificate(BaseModel):
    """The product's certificate that decides its verdict."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    number: str
    star: int
    level: str
    status: str
    issued_on: date
    expires_on: date
    issuing_authority: str
    revocation_ground: str | None


class Certification(BaseModel):
    """A product as stamps knows it, its current certificate and whether it is certified today."""

    model_config = ConfigDict(frozen=True)

    product_id: uuid.UUID
    name: str
    name_en: str | None
    gtin: str | None
    image: str | None
    images: list[str]
    product_status: str
    entity_id: uuid.UUID
    entity_name: str
    commune_code: str
    commune_name: str | None
    province_code: str
    province_name: str | None
    certificate: CurrentCertificate | None
    verdict: Verdict
