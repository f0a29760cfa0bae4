"""All SQL touching the product table."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.products.models import Product


class ProductRepository:
    """Reads and writes products within the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, product_id: uuid.UUID) -> Product | None:
        """The product with this id, if any."""
        return await self.session.get(Product, product_id)

    async def add(self, product: Product) -> Product:
        """Insert a product and load its server-side defaults."""
        self.session.add(product)
        await self.session.flush()
        await self.session.refresh(product)
        return product
