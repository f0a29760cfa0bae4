"""All SQL touching the entity table."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select

from services.registry.entities.models import Entity
from shared.pagination import KeysetPage
from shared.repository import Repository
from shared.security.scopes import Visibility, visible_condition


@dataclass(frozen=True)
class EntityFilter:
    """The optional filters of an entity listing (None: no filter)."""

    entity_type: str | None = None
    commune_code: str | None = None
    province_code: str | None = None
    name_folded: str | None = None


class EntityRepository(Repository[Entity]):
    """Reads and writes entities within the caller's transaction."""

    model = Entity

    async def get_by_tax_code(self, tax_code: str) -> Entity | None:
        """The entity holding this tax code, if any."""
        return await self.session.scalar(select(Entity).where(Entity.tax_code == tax_code))

    async def by_tax_codes(self, tax_codes: Collection[str]) -> dict[str, Entity]:
        """The entities holding these tax codes, by tax code (one query however many)."""
        if not tax_codes:
            return {}
        rows = await self.session.scalars(select(Entity).where(Entity.tax_code.in_(list(tax_codes))))
        return {entity.tax_code: entity for entity in rows}

    async def list(
        self, visible: Visibility, where: EntityFilter, *, limit: int, after: tuple[str, uuid.UUID] | None
    ) -> KeysetPage[Entity]:
        """A page of the entities ``visible`` admits, ordered by folded name then id."""
        query = select(Entity).where(
            visible_condition(
                visible, entity=Entity.id, commune=Entity.commune_code, province=Entity.province_code
            )
        )
        if where.entity_type is not None:
            query = query.where(Entity.entity_type == where.entity_type)
        if where.commune_code is not None:
            query = query.where(Entity.commune_code == where.commune_code)
        if where.province_code is not None:
            query = query.where(Entity.province_code == where.province_code)
        if where.name_folded:
            query = query.where(Entity.name_folded.contains(where.name_folded, autoescape=True))
        return await self.paginate(query, keys=(Entity.name_folded, Entity.id), after=after, limit=limit)
