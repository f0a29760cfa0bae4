"""Product request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from shared.schemas import BaseSchema, ReadSchema

ProductName = Annotated[str, Field(min_length=1, max_length=255, examples=["Rượu ba kích Quảng Ninh"])]
ProductSet = Annotated[int, Field(ge=1, le=26, description="National product set (bộ sản phẩm), 1–26")]


class ProductCreate(BaseSchema):
    """A product to register."""

    name: ProductName
    name_en: Annotated[str | None, Field(max_length=255)] = None
    description: Annotated[str | None, Field(max_length=20_000)] = None
    product_set: ProductSet


class ProductRead(ReadSchema):
    """A product as the registry stores it."""

    id: uuid.UUID
    name: str
    name_en: str | None
    description: str | None
    product_set: int
    created_at: datetime
    updated_at: datetime
