"""HTTP routes of /v1/products."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response, status

from services.registry.products import service
from services.registry.products.schemas import ProductCreate, ProductRead
from shared.db import SessionDep
from shared.schemas import Problem

router = APIRouter(prefix="/v1/products", tags=["products"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "No such product"}}


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProductRead)
async def create_product(body: ProductCreate, session: SessionDep, response: Response) -> ProductRead:
    """Register a product."""
    product = await service.register_product(session, body)
    response.headers["Location"] = f"/v1/products/{product.id}"
    return ProductRead.model_validate(product)


@router.get("/{product_id}", response_model=ProductRead, responses=NOT_FOUND)
async def read_product(product_id: uuid.UUID, session: SessionDep) -> ProductRead:
    """Read one product."""
    return ProductRead.model_validate(await service.get_product(session, product_id))
