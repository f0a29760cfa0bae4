"""All SQL touching the entity table."""

from __future__ import annotations

import typing
import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Row, RowMapping, String, Table, select, true
from sqlalchemy.dialects.postgresql import UUID

from services.registry.admin_units.repository import unit_as_of
from services.registry.entities.models import Entity
from services.registry.snapshots import SNAPSHOT_VERSION, json_object
from shared.pagination import KeysetPage
from shared.repository import Repository, unnested
from shared.security.scopes import Visibility, visible_condition

ENTITIES = typing.cast(Table, Entity.__table__)


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

    async def snapshots(self, entity_ids: Collection[uuid.UUID], on: date) -> dict[uuid.UUID, dict[str, Any]]:
        """What ``registry.entity.updated`` says of each entity as it now stands (places as of ``on``).

        One statement for the whole list; each snapshot takes the next ``snapshot_version`` while the
        caller's write holds the row's lock, so a later snapshot of an entity has a larger version.
        """
        if not entity_ids:
            return {}
        wanted = unnested("wanted", id=(list(entity_ids), UUID(as_uuid=True)))
        commune = unit_as_of(ENTITIES.c.commune_code, "commune", on, "commune")
        province = unit_as_of(ENTITIES.c.province_code, "province", on, "province")
        e = ENTITIES.c
        data = json_object(
            id=e.id, version=SNAPSHOT_VERSION, legal_name=e.legal_name, entity_type=e.entity_type,
            tax_code=e.tax_code, representative_name=e.representative_name, commune_code=e.commune_code,
            commune_name=commune.c.name, province_code=e.province_code, province_name=province.c.name,
            updated_at=e.updated_at,
        )  # fmt: skip
        statement = (
            select(e.id, data.label("data"))
            .select_from(ENTITIES)
            .join(wanted, e.id == wanted.c.id)
            .outerjoin(commune, true())
            .outerjoin(province, true())
        )
        return {row.id: row.data for row in (await self.session.execute(statement)).all()}

    async def get_by_tax_code(self, tax_code: str) -> Entity | None:
        """The entity holding this tax code, if any."""
        return await self.session.scalar(select(Entity).where(Entity.tax_code == tax_code))

    async def rows_by_tax_code(
        self, tax_codes: Collection[str], columns: Sequence[str]
    ) -> dict[str, Row[Any]]:
        """Some columns of the entities holding these tax codes, by tax code (one query however many)."""
        return await self._rows_by("tax_code", String, tax_codes, columns)

    async def rows_by_id(
        self, ids: Collection[uuid.UUID], columns: Sequence[str]
    ) -> dict[uuid.UUID, Row[Any]]:
        """Some columns of the entities with these ids, by id (one query however many)."""
        return await self._rows_by("id", UUID(as_uuid=True), ids, columns)

    async def _rows_by(
        self, key: str, item_type: Any, values: Collection[Any], columns: Sequence[str]
    ) -> dict[Any, Row[Any]]:
        if not values:
            return {}
        wanted = unnested("wanted", value=(list(values), item_type))
        query = select(*(ENTITIES.c[name] for name in dict.fromkeys([key, *columns]))).join(
            wanted, ENTITIES.c[key] == wanted.c.value
        )
        return {getattr(row, key): row for row in (await self.session.execute(query)).all()}

    async def stream(
        self, visible: Visibility, columns: Sequence[str], batch_size: int
    ) -> AsyncIterator[Sequence[RowMapping]]:
        """Some columns of the entities ``visible`` admits, by tax code, in batches (a server-side cursor)."""
        query = (
            select(*(ENTITIES.c[name] for name in columns))
            .where(_visible(visible))
            .order_by(ENTITIES.c.tax_code)
            .execution_options(yield_per=batch_size)
        )
        result = await self.session.stream(query)
        async for partition in result.mappings().partitions():
            yield partition

    async def list(
        self, visible: Visibility, where: EntityFilter, *, limit: int, after: tuple[str, uuid.UUID] | None
    ) -> KeysetPage[Entity]:
        """A page of the entities ``visible`` admits, ordered by folded name then id."""
        query = select(Entity).where(_visible(visible))
        if where.entity_type is not None:
            query = query.where(Entity.entity_type == where.entity_type)
        if where.commune_code is not None:
            query = query.where(Entity.commune_code == where.commune_code)
        if where.province_code is not None:
            query = query.where(Entity.province_code == where.province_code)
        if where.name_folded:
            query = query.where(Entity.name_folded.contains(where.name_folded, autoescape=True))
        return await self.paginate(query, keys=(Entity.name_folded, Entity.id), after=after, limit=limit)


def _visible(visible: Visibility) -> Any:
    return visible_condition(
        visible, entity=ENTITIES.c.id, commune=ENTITIES.c.commune_code, province=ENTITIES.c.province_code
    )
