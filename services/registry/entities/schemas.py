"""Entity request and response bodies."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from shared.schemas import BaseSchema, NotBool, ReadSchema

EntityType = Literal["enterprise", "cooperative", "cooperative_group", "household_business"]
Gender = Literal["female", "male", "other"]

# MST: 10 digits (organisations), 10+3 for a dependent unit, or 12 (personal / household since 2025).
TaxCode = Annotated[str, Field(pattern=r"^(\d{10}(-\d{3})?|\d{12})$", examples=["5701234567"])]
CommuneCode = Annotated[str, Field(pattern=r"^\d{5}$", examples=["07090"])]
Phone = Annotated[str, Field(pattern=r"^\+?[0-9][0-9 .\-]{7,18}$", examples=["0203 3826 123"])]
Email = Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Website = Annotated[str, Field(max_length=255, pattern=r"^https?://[^\s]+$")]
GS1Prefix = Annotated[str, Field(pattern=r"^\d{6,12}$", examples=["8938505"])]
Certification = Annotated[str, Field(min_length=2, max_length=40, examples=["VietGAP"])]
Text255 = Annotated[str, Field(min_length=1, max_length=255)]
Count = Annotated[int, NotBool, Field(ge=0, le=10_000_000)]
Area = Annotated[Decimal, Field(ge=0, le=10_000_000, max_digits=12, decimal_places=2)]


class EntityCreate(BaseSchema):
    """An OCOP entity to register."""

    entity_type: Annotated[EntityType, Field(examples=["cooperative"])]
    legal_name: Annotated[Text255, Field(examples=["Hợp tác xã Nông sản An Sinh"])]
    tax_code: TaxCode
    business_registration_no: Annotated[str | None, Field(max_length=50)] = None
    business_registration_date: date | None = None
    business_registration_authority: Annotated[str | None, Field(max_length=255)] = None
    representative_name: Annotated[str, Field(min_length=1, max_length=120, examples=["Nguyễn Thị Hoa"])]
    representative_gender: Gender | None = None
    representative_ethnicity: Annotated[str | None, Field(max_length=50)] = None
    address: Annotated[str | None, Field(max_length=500)] = None
    commune_code: CommuneCode
    phone: Phone | None = None
    email: Email | None = None
    website: Website | None = None
    members_count: Count | None = None
    local_workers_count: Count | None = None
    raw_material_area_ha: Area | None = None
    certifications: Annotated[list[Certification], Field(max_length=20, default_factory=list)]
    gs1_company_prefix: GS1Prefix | None = None


class EntityUpdate(BaseSchema):
    """Changes to an entity; fields left out stay as they are."""

    entity_type: EntityType | None = None
    legal_name: Text255 | None = None
    tax_code: TaxCode | None = None
    business_registration_no: Annotated[str | None, Field(max_length=50)] = None
    business_registration_date: date | None = None
    business_registration_authority: Annotated[str | None, Field(max_length=255)] = None
    representative_name: Annotated[str | None, Field(min_length=1, max_length=120)] = None
    representative_gender: Gender | None = None
    representative_ethnicity: Annotated[str | None, Field(max_length=50)] = None
    address: Annotated[str | None, Field(max_length=500)] = None
    commune_code: CommuneCode | None = None
    phone: Phone | None = None
    email: Email | None = None
    website: Website | None = None
    members_count: Count | None = None
    local_workers_count: Count | None = None
    raw_material_area_ha: Area | None = None
    certifications: Annotated[list[Certification] | None, Field(max_length=20)] = None
    gs1_company_prefix: GS1Prefix | None = None


class EntityRead(ReadSchema):
    """An entity as the registry stores it."""

    id: uuid.UUID
    entity_type: EntityType
    legal_name: str
    tax_code: str
    business_registration_no: str | None
    business_registration_date: date | None
    business_registration_authority: str | None
    representative_name: str
    representative_gender: Gender | None
    representative_ethnicity: str | None
    address: str | None
    commune_code: str
    province_code: str
    phone: str | None
    email: str | None
    website: str | None
    members_count: int | None
    local_workers_count: int | None
    raw_material_area_ha: Decimal | None
    certifications: list[str]
    gs1_company_prefix: str | None
    created_at: datetime
    updated_at: datetime
