"""All SQL touching the entity table."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.entities.models import Entity
from services.registry.policies import Visibility


class EntityRepository:
    """Reads and writes entities within the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, entity_id: uuid.UUID) -> Entity | None:
        """The entity with this id, if any."""
        return await self.session.get(Entity, entity_id)

    async def get_by_tax_code(self, tax_code: str) -> Entity | None:
        """The entity holding this tax code, if any."""
        return await self.session.scalar(select(Entity).where(Entity.tax_code == tax_code))

    async def add(self, entity: Entity) -> Entity:
        """Insert an entity and load its server defaults."""
        self.session.add(entity)
        await self.session.flush()
        await self.session.refresh(entity)
        return entity

    async def save(self, entity: Entity) -> Entity:
        """Flush changes to an entity and reload its server-maintained columns."""
        await self.session.flush()
        await self.session.refresh(entity)
        return entity

    async def list(
        self,
        visible: Visibility,
        *,
        limit: int,
        after: tuple[str, uuid.UUID] | None,
        filters: dict[str, Any],
        q_folded: str | None,
    ) -> list[Entity]:
        """A page of entities the caller may see, ordered by folded name then id."""
        query = select(Entity)
        if visible.entity_id:
            query = query.where(Entity.id == visible.entity_id)
        if visible.commune_code:
            query = query.where(Entity.commune_code == visible.commune_code)
        if visible.province_code:
            query = query.where(Entity.province_code == visible.province_code)
        for column, value in filters.items():
            if value is not None:
                query = query.where(getattr(Entity, column) == value)
        if q_folded:
            query = query.where(Entity.name_folded.contains(q_folded, autoescape=True))
        if after:
            query = query.where(tuple_(Entity.name_folded, Entity.id) > tuple_(*after))
        query = query.order_by(Entity.name_folded, Entity.id).limit(limit)
        return list((await self.session.scalars(query)).all())
