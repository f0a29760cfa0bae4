"""Product request and response bodies."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from services.registry.entities.schemas import EntityRead
from services.registry.products.certificates import CriteriaVersionCode
from services.registry.products.classification import Classification
from shared.schemas import BaseSchema, NotBool, ReadSchema

ProductName = Annotated[str, Field(min_length=1, max_length=255, examples=["Rượu ba kích Ba Chẽ"])]
ProductSet = Annotated[
    int, NotBool, Field(ge=1, le=26, description="National product set (bộ sản phẩm), 1–26")
]
Gtin = Annotated[str, Field(pattern=r"^(\d{8}|\d{12,14})$", examples=["8935123400012"])]
Status = Literal["idea", "business_plan", "implementing", "ready_for_evaluation", "certified", "lapsed"]
InitialStatus = Literal["idea", "business_plan", "implementing", "ready_for_evaluation"]
CertificateStatus = Literal["active", "expiring", "expired", "revoked", "superseded"]
CertificateLevel = Literal["district", "province", "central"]
LongText = Annotated[str, Field(max_length=20_000)]


class ImageLink(BaseSchema):
    """An image given by URL (uploaded images are added through the images endpoint)."""

    url: Annotated[str, Field(max_length=1000, pattern=r"^https?://[^\s]+$")]


class ProductCreate(BaseSchema):
    """A product to register for an entity."""

    entity_id: uuid.UUID
    name: ProductName
    name_en: Annotated[str | None, Field(max_length=255)] = None
    description: LongText | None = None
    story: LongText | None = None
    product_set: Annotated[ProductSet, Field(examples=[15])]
    classification: Classification = "148"
    gtin: Gtin | None = None
    images: Annotated[list[ImageLink], Field(max_length=10, default_factory=list)]
    external_id: Annotated[str | None, Field(min_length=1, max_length=100)] = None
    status: InitialStatus = "idea"


class ProductUpdate(BaseSchema):
    """Changes to a product; star and certificate fields are not among them (scoring writes those)."""

    name: ProductName | None = None
    name_en: Annotated[str | None, Field(max_length=255)] = None
    description: LongText | None = None
    story: LongText | None = None
    product_set: ProductSet | None = None
    classification: Classification | None = None
    gtin: Gtin | None = None
    images: Annotated[list[ImageLink] | None, Field(max_length=10)] = None
    external_id: Annotated[str | None, Field(min_length=1, max_length=100)] = None


class StatusChange(BaseSchema):
    """Move a product along the OCOP cycle."""

    status: Literal["business_plan", "implementing", "ready_for_evaluation"]


class CertificationIn(BaseSchema):
    """The certificate in a ``scoring.certificate.*`` event's data (issued, expiring, expired, revoked, superseded)."""

    product_id: uuid.UUID
    ocop_star: Annotated[int, NotBool, Field(ge=3, le=5, description="Only 3–5★ are certified")]
    certificate_number: Annotated[str, Field(min_length=1, max_length=60, examples=["OCOP-QN-2026-0042"])]
    issuing_authority: Annotated[
        str, Field(min_length=1, max_length=255, examples=["Ủy ban nhân dân tỉnh Quảng Ninh"])
    ]
    decision_number: Annotated[
        str | None, Field(min_length=1, max_length=60, examples=["377/QĐ-BNN-VPĐP"])
    ] = None
    criteria_version: Annotated[
        CriteriaVersionCode | None,
        Field(description="The criteria set it was evaluated under; default: the one in force on issued_on"),
    ] = None
    issued_on: date
    expires_on: Annotated[
        date | None,
        Field(description="36 months after issued_on (or the criteria version's term); computed if absent"),
    ] = None
    level: CertificateLevel
    status: CertificateStatus
    revocation_ground: Annotated[
        str | None,
        Field(min_length=1, max_length=1000, description="Why it was revoked; only with status revoked"),
    ] = None


class Image(ReadSchema):
    """An image of a product: a stored upload (with its hash) or an external URL."""

    url: str
    sha256: str | None = None
    content_type: str | None = None
    size: int | None = None


class Warning(ReadSchema):
    """Something accepted but worth a second look (a GTIN outside GS1 Vietnam's 893 prefix)."""

    field: str
    message: str


class ProductRead(ReadSchema):
    """A product as the registry stores it."""

    id: uuid.UUID
    entity_id: uuid.UUID
    product_code: str
    external_id: str | None
    name: str
    name_en: str | None
    description: str | None
    story: str | None
    classification: str
    product_set: int
    product_group: str = Field(description="The set's group in its classification (26/2026: one of 17)")
    sector: str = Field(description="The group's sector (148 and 1048 have one level: the group itself)")
    gtin: str | None
    images: list[Image]
    status: Status
    commune_code: str
    province_code: str
    ocop_star: int | None
    certificate_number: str | None
    certificate_issued_on: date | None
    certificate_expires_on: date | None
    certificate_status: CertificateStatus | None
    certificate_level: CertificateLevel | None
    certificate_authority: str | None
    certificate_decision_number: str | None
    certificate_revocation_ground: str | None
    created_at: datetime
    updated_at: datetime
    warnings: Annotated[list[Warning], Field(default_factory=list)]


class UnitAsOf(ReadSchema):
    """A commune or province as it stands on the snapshot's day (``valid_to`` set if it has ended since)."""

    code: str
    name: str
    unit_type: str
    valid_from: date | None
    valid_to: date | None


class ProductSnapshot(ReadSchema):
    """The product as scoring pins it at submission: with its entity, commune and province, as of one day."""

    as_of: Annotated[date, Field(description="The day (in Vietnam) the units were resolved for")]
    product: ProductRead
    entity: EntityRead
    commune: UnitAsOf | None
    province: UnitAsOf | None


class ProductChangeRead(ReadSchema):
    """One entry of a product's change history."""

    changed_at: datetime
    actor: str
    actor_role: str
    action: str
    changes: dict[str, Any]
