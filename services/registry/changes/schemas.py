"""Change-request bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from services.registry.entities.schemas import TaxCode, Text255
from services.registry.products.classification import Classification
from services.registry.products.schemas import Gtin, ProductName, ProductSet
from shared.schemas import BaseSchema, ReadSchema

Reason = Annotated[str, Field(min_length=1, max_length=2000)]
ChangeState = Literal["pending", "approved", "rejected"]


class _AtLeastOneChange(BaseSchema):
    reason: Reason | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> _AtLeastOneChange:
        if not self.model_dump(exclude_unset=True, exclude={"reason"}):
            raise ValueError("name at least one field to change")
        return self


class ProductIdentityChange(_AtLeastOneChange):
    """New identity fields for a certified product, with the reason."""

    name: ProductName | None = None
    name_en: Annotated[str | None, Field(max_length=255)] = None
    product_set: ProductSet | None = None
    classification: Classification | None = None
    gtin: Gtin | None = None


class EntityIdentityChange(_AtLeastOneChange):
    """A new legal name or tax code for an entity, with the reason."""

    legal_name: Text255 | None = None
    tax_code: TaxCode | None = None


class Rejection(BaseSchema):
    """Why a request is turned down."""

    reason: Reason


class ChangeRequestRead(ReadSchema):
    """A change request and where it stands."""

    id: uuid.UUID
    resource: Literal["product", "entity"]
    resource_id: uuid.UUID
    entity_id: uuid.UUID
    commune_code: str
    province_code: str
    changes: dict[str, Any]
    previous: dict[str, Any]
    reason: str | None
    status: ChangeState
    requested_by: str
    requested_role: str
    decided_by: str | None
    decision_reason: str | None
    decided_at: datetime | None
    created_at: datetime
    updated_at: datetime
