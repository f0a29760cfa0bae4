"""The entity's integration event: ``registry.entity.updated``, subject ``entity/<entity id>``.

Emitted in the transaction of every registration and change of an entity (the API, imports, approved
change requests), after the writes: its data is the entity as it now stands (docs/EVENTS.md has its
JSON Schema), built by one statement for the whole batch, with a ``version`` that grows with every
snapshot of the entity.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.entities.repository import EntityRepository
from services.registry.outbox import OUTBOX
from shared import clock

ENTITY_UPDATED = "registry.entity.updated"


async def emit_updated(
    session: AsyncSession, entity_ids: Iterable[uuid.UUID], *, destination: str | None = None
) -> None:
    """One ``registry.entity.updated`` per entity (in the order given), in one insert.

    With ``destination``, only that subscriber receives them (an answer to its snapshot request).
    """
    ordered = list(dict.fromkeys(entity_ids))
    snapshots = await EntityRepository(session).snapshots(ordered, clock.today())
    envelopes = [
        OUTBOX.envelope(type=ENTITY_UPDATED, subject=f"entity/{entity_id}", data=snapshots[entity_id])
        for entity_id in ordered
    ]
    if destination is None:
        await OUTBOX.emit_many(session, envelopes)
    else:
        await OUTBOX.emit_many_to(session, envelopes, destination)
