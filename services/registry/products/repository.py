"""All SQL touching products, their history, code sequences and media."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.policies import Visibility
from services.registry.products.models import Media, Product, ProductChange, ProductCodeSequence


class ProductRepository:
    """Reads and writes products within the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, product_id: uuid.UUID, *, for_update: bool = False) -> Product | None:
        """The product with this id, if any (row-locked for a state change when asked)."""
        return await self.session.get(Product, product_id, with_for_update=for_update)

    async def find(
        self, entity_id: uuid.UUID, *, name: str | None = None, gtin: str | None = None
    ) -> Product | None:
        """A product of ``entity_id`` with this name, or any product with this GTIN."""
        query = select(Product)
        if gtin is not None:
            query = query.where(Product.gtin == gtin)
        else:
            query = query.where(Product.entity_id == entity_id, Product.name == name)
        return await self.session.scalar(query.limit(1))

    async def next_code_sequence(self, commune_code: str, year: int) -> int:
        """Atomically take the next product-code number of a commune and year."""
        statement = (
            insert(ProductCodeSequence)
            .values(commune_code=commune_code, year=year, last_value=1)
            .on_conflict_do_update(
                index_elements=["commune_code", "year"],
                set_={"last_value": ProductCodeSequence.last_value + 1},
            )
            .returning(ProductCodeSequence.last_value)
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def add(self, product: Product) -> Product:
        """Insert a product and load its server defaults."""
        self.session.add(product)
        await self.session.flush()
        await self.session.refresh(product)
        return product

    async def save(self, product: Product) -> Product:
        """Flush changes and reload server-maintained columns."""
        await self.session.flush()
        await self.session.refresh(product)
        return product

    async def record_change(
        self, product_id: uuid.UUID, actor: str, actor_role: str, action: str, changes: dict[str, Any]
    ) -> None:
        """Append one entry to the product's history."""
        self.session.add(
            ProductChange(
                product_id=product_id, actor=actor, actor_role=actor_role, action=action, changes=changes
            )
        )
        await self.session.flush()

    async def history(self, product_id: uuid.UUID) -> list[ProductChange]:
        """The product's history, oldest first."""
        query = select(ProductChange).where(ProductChange.product_id == product_id).order_by(ProductChange.id)
        return list((await self.session.scalars(query)).all())

    async def list(
        self, visible: Visibility, *, limit: int, after: tuple[str, uuid.UUID] | None, filters: dict[str, Any]
    ) -> list[Product]:
        """A page of products the caller may see, ordered by folded name then id."""
        query = select(Product)
        if visible.entity_id:
            query = query.where(Product.entity_id == visible.entity_id)
        if visible.commune_code:
            query = query.where(Product.commune_code == visible.commune_code)
        if visible.province_code:
            query = query.where(Product.province_code == visible.province_code)
        for column, value in filters.items():
            if value is not None:
                query = query.where(getattr(Product, column) == value)
        if after:
            query = query.where(tuple_(Product.name_folded, Product.id) > tuple_(*after))
        return list(
            (await self.session.scalars(query.order_by(Product.name_folded, Product.id).limit(limit))).all()
        )

    async def store_media(self, sha256: str, content_type: str, data: bytes) -> None:
        """Keep an upload once per content hash."""
        statement = insert(Media).values(sha256=sha256, content_type=content_type, size=len(data), data=data)
        await self.session.execute(statement.on_conflict_do_nothing(index_elements=["sha256"]))

    async def get_media(self, sha256: str) -> Media | None:
        """A stored upload by its hash."""
        return await self.session.get(Media, sha256)
