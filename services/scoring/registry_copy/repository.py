"""All SQL touching scoring's copy of the registry's products and entities."""

from __future__ import annotations

import typing
import uuid
from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import UUID, insert

from services.scoring.registry_copy.models import RegistryEntity, RegistryProduct
from shared.repository import Repository, unnested

PRODUCTS = typing.cast(Table, RegistryProduct.__table__)
ENTITIES = typing.cast(Table, RegistryEntity.__table__)


class RegistryCopyRepository(Repository[RegistryProduct]):
    """Upserts and reads of the copied products and entities, within the caller's transaction."""

    model = RegistryProduct

    async def keep_newer(self, table: Table, values: Mapping[str, Any]) -> bool:
        """Insert the record, or replace the stored one if ``values`` has a larger version; whether it was kept."""
        statement = insert(table).values(dict(values))
        changed = {name: statement.excluded[name] for name in values if name != "id"}
        upsert = statement.on_conflict_do_update(
            index_elements=[table.c.id],
            set_={**changed, "received_at": statement.excluded.received_at},
            where=table.c.version < statement.excluded.version,
        ).returning(table.c.id)
        return (await self.session.execute(upsert)).first() is not None

    async def names(
        self, product_ids: Collection[uuid.UUID], entity_ids: Collection[uuid.UUID]
    ) -> tuple[dict[uuid.UUID, str], dict[uuid.UUID, str]]:
        """The current names of these products and entities (those scoring has heard of), one query per kind."""
        found: list[dict[uuid.UUID, str]] = []
        for table, name, ids in ((PRODUCTS, "name", product_ids), (ENTITIES, "legal_name", entity_ids)):
            if not ids:
                found.append({})
                continue
            wanted = unnested("wanted", id=(list(ids), UUID(as_uuid=True)))
            query = select(table.c.id, table.c[name]).join(wanted, table.c.id == wanted.c.id)
            found.append({row[0]: row[1] for row in (await self.session.execute(query)).all()})
        return found[0], found[1]

    async def product(self, product_id: uuid.UUID) -> RegistryProduct | None:
        """The copied product, if scoring has heard of it."""
        return await self.session.get(RegistryProduct, product_id)

    async def entity(self, entity_id: uuid.UUID) -> RegistryEntity | None:
        """The copied entity, if scoring has heard of it."""
        return await self.session.get(RegistryEntity, entity_id)
