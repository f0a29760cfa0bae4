"""Request and response bodies of idea registrations and business plans."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from services.registry.products.classification import Classification
from services.registry.products.schemas import ProductName, ProductSet
from shared.schemas import BaseSchema, NotBool, ReadSchema

ReviewStatus = Literal["draft", "submitted", "approved", "returned"]
Title = Annotated[str, Field(min_length=1, max_length=255, examples=["Rượu ba kích Ba Chẽ đóng chai"])]
LongText = Annotated[str, Field(min_length=1, max_length=20_000)]
# Enough for any commune-level plan (10 trillion VND) while keeping typos of extra zeros out.
BudgetVnd = Annotated[int, NotBool, Field(ge=0, le=10_000_000_000_000, examples=[350_000_000])]


class IdeaCreate(BaseSchema):
    """A product idea (Form 1/2): registers the product in state "idea" and the idea as a draft."""

    entity_id: uuid.UUID
    product_name: ProductName
    product_set: ProductSet
    classification: Classification | None = None
    title: Title | None = Field(default=None, description="Defaults to the product name")
    description: LongText
    raw_materials: LongText


class IdeaUpdate(BaseSchema):
    """Changes to a draft or returned idea; fields left out stay as they are."""

    title: Title | None = None
    description: LongText | None = None
    raw_materials: LongText | None = None


class ReturnDecision(BaseSchema):
    """Why a reviewer sends a submission back to its producer."""

    reason: Annotated[
        str, Field(min_length=1, max_length=2000, examples=["Thiếu thông tin vùng nguyên liệu"])
    ]


class IdeaRead(ReadSchema):
    """An idea registration and where it stands in review."""

    id: uuid.UUID
    entity_id: uuid.UUID
    product_id: uuid.UUID
    title: str
    description: str | None
    raw_materials: str | None
    commune_code: str
    province_code: str
    status: ReviewStatus
    return_reason: str | None
    submitted_at: datetime | None
    decided_at: datetime | None
    decided_by: str | None
    created_at: datetime
    updated_at: datetime


class BusinessPlanCreate(BaseSchema):
    """The business plan (phương án sản xuất kinh doanh) of an approved idea."""

    idea_id: uuid.UUID
    summary: LongText
    market: LongText
    budget_vnd: BudgetVnd


class BusinessPlanUpdate(BaseSchema):
    """Changes to a draft or returned business plan; fields left out stay as they are."""

    summary: LongText | None = None
    market: LongText | None = None
    budget_vnd: BudgetVnd | None = None


class BusinessPlanRead(ReadSchema):
    """A business plan and where it stands in review."""

    id: uuid.UUID
    idea_id: uuid.UUID
    entity_id: uuid.UUID
    product_id: uuid.UUID
    summary: str
    market: str | None
    budget_vnd: int | None
    commune_code: str
    province_code: str
    status: ReviewStatus
    return_reason: str | None
    submitted_at: datetime | None
    decided_at: datetime | None
    decided_by: str | None
    created_at: datetime
    updated_at: datetime
