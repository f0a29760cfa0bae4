"""Keeping the copy: each registry snapshot is applied once, and an older one never replaces a newer one.

The registry announces every change of a product or an entity (``registry.product.updated``,
``registry.entity.updated``, docs/EVENTS.md) with the record as it then stands and a growing
``version``; events arrive at least once and a replayed dead letter may come late, so the copy keeps
the snapshot with the largest version. Scoring's own records (a certificate's names) never change:
the copy is what shows the product's and producer's names as they are now.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.registry_copy.errors import RegistrySnapshotInvalid
from services.scoring.registry_copy.repository import ENTITIES, PRODUCTS, RegistryCopyRepository
from services.scoring.registry_copy.schemas import EntitySnapshot, ProductSnapshot, Snapshot
from shared.events.envelope import Envelope

# Where a snapshot's columns come from (the whole snapshot is kept too, as ``snapshot``).
PRODUCT_COLUMNS = ("id", "version", "entity_id", "product_code", "name", "status", "ocop_star",
                   "province_code", "commune_code")  # fmt: skip
ENTITY_COLUMNS = ("id", "version", "legal_name", "entity_type", "tax_code", "province_code", "commune_code")


@dataclass(frozen=True)
class CurrentNames:
    """The registry's current names of some products and entities (absent: not heard of yet)."""

    products: dict[uuid.UUID, str]
    entities: dict[uuid.UUID, str]


S = TypeVar("S", bound=Snapshot)


def _read(schema: type[S], envelope: Envelope, kind: str) -> S:
    try:
        snapshot = schema.model_validate(envelope.data)
    except ValidationError as exc:
        raise RegistrySnapshotInvalid(
            f"Event {envelope.id} ({envelope.type}) carries an invalid snapshot",
            errors=[
                {"field": ".".join(["data", *map(str, e["loc"])]), "message": e["msg"]} for e in exc.errors()
            ],
        ) from exc
    if envelope.subject != f"{kind}/{snapshot.id}":
        raise RegistrySnapshotInvalid(
            f"Event {envelope.id} is about {envelope.subject} but carries {kind} {snapshot.id}",
            field="data.id",
        )
    return snapshot


def _values(snapshot: Snapshot, columns: tuple[str, ...], envelope: Envelope) -> dict[str, Any]:
    values = {name: getattr(snapshot, name) for name in columns}
    return values | {"snapshot": envelope.data, "registry_updated_at": snapshot.updated_at}


async def apply_product_event(session: AsyncSession, *, envelope: Envelope) -> None:
    """Keep a ``registry.product.updated`` snapshot unless a newer one of the product is held."""
    snapshot = _read(ProductSnapshot, envelope, "product")
    await RegistryCopyRepository(session).keep_newer(PRODUCTS, _values(snapshot, PRODUCT_COLUMNS, envelope))


async def apply_entity_event(session: AsyncSession, *, envelope: Envelope) -> None:
    """Keep a ``registry.entity.updated`` snapshot unless a newer one of the entity is held."""
    snapshot = _read(EntitySnapshot, envelope, "entity")
    await RegistryCopyRepository(session).keep_newer(ENTITIES, _values(snapshot, ENTITY_COLUMNS, envelope))


async def current_names(
    session: AsyncSession, *, product_ids: Collection[uuid.UUID], entity_ids: Collection[uuid.UUID]
) -> CurrentNames:
    """The names the registry gives these products and entities now (one query per kind)."""
    products, entities = await RegistryCopyRepository(session).names(set(product_ids), set(entity_ids))
    return CurrentNames(products, entities)
