"""Product rules: registration and lookup."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.products.errors import ProductNotFound
from services.registry.products.models import Product
from services.registry.products.repository import ProductRepository
from services.registry.products.schemas import ProductCreate


async def register_product(session: AsyncSession, data: ProductCreate) -> Product:
    """Register a new product."""
    return await ProductRepository(session).add(Product(**data.model_dump()))


async def get_product(session: AsyncSession, product_id: uuid.UUID) -> Product:
    """The product with this id, or ProductNotFound."""
    product = await ProductRepository(session).get(product_id)
    if product is None:
        raise ProductNotFound(f"No product {product_id}")
    return product
