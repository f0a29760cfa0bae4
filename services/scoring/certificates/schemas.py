"""Certificates as the API takes and shows them."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from shared.schemas import BaseSchema, ReadSchema

CertificateStatus = Literal["active", "expiring", "expired", "revoked", "superseded"]


class RevocationGround(StrEnum):
    """Why a certificate is revoked (our vocabulary for 26/2026 Art. 8's six grounds, plus lapse)."""

    not_re_evaluated = "not_re_evaluated"
    failed_mandatory_criteria = "failed_mandatory_criteria"
    quality_violation = "quality_violation"
    false_dossier = "false_dossier"
    misuse_of_mark = "misuse_of_mark"
    entity_dissolved = "entity_dissolved"
    withdrawn_by_entity = "withdrawn_by_entity"


class CertificateIssue(BaseSchema):
    """The competent authority's decision on a recognised result."""

    application_id: uuid.UUID
    decision_number: Annotated[str, Field(min_length=1, max_length=60, examples=["1234/QĐ-UBND"])]
    issuing_authority: Annotated[
        str, Field(min_length=1, max_length=255, examples=["Ủy ban nhân dân tỉnh Quảng Ninh"])
    ]
    issued_on: Annotated[date | None, Field(description="The decision's date; default: today in Vietnam")] = (
        None
    )


class CertificateRevoke(BaseSchema):
    """A revocation decision."""

    ground: RevocationGround
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    decision_number: Annotated[str | None, Field(min_length=1, max_length=60)] = None


class CertificateRead(ReadSchema):
    """A certificate as officers, its producer and the national system see it."""

    id: uuid.UUID
    number: str
    issuing_authority: str
    decision_number: str
    star: int
    level: str
    criteria_version: str
    product_id: uuid.UUID
    entity_id: uuid.UUID
    province_code: str
    commune_code: str | None
    product_set: int
    product_name: str
    entity_name: str
    product_current_name: str | None = Field(
        description="The product's name in the registry now (None until the registry has announced it); "
        "product_name stays the name certified"
    )
    entity_current_name: str | None = Field(
        description="The producer's legal name in the registry now (None until announced); entity_name stays"
        " the name certified"
    )
    application_id: uuid.UUID | None
    result_id: uuid.UUID | None
    issued_on: date
    expires_on: date
    status: CertificateStatus
    status_changed_on: date
    revocation_ground: str | None
    revocation_reason: str | None
    superseded_by: uuid.UUID | None
    version: int = Field(description="Grows with every change; each change is a scoring.certificate.* event")


class CertificatePublic(ReadSchema):
    """What anyone may check about a certificate by its number."""

    number: str
    issuing_authority: str
    decision_number: str
    star: int
    level: str
    product_id: uuid.UUID
    product_name: str
    entity_name: str
    product_current_name: str | None = Field(
        description="The product's name in the registry now (None until the registry has announced it); "
        "product_name stays the name certified"
    )
    entity_current_name: str | None = Field(
        description="The producer's legal name in the registry now (None until announced); entity_name stays"
        " the name certified"
    )
    issued_on: date
    expires_on: date
    status: CertificateStatus
    valid: bool = Field(description="Active or expiring on the day of the lookup")
