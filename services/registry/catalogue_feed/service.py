"""The catalogue feed's rules: which registry.catalogue.* event a product's new public record calls for.

A write that may change what the catalogue shows calls ``publish_changes`` with the products it
touched, in its own transaction: the current public records are computed by the catalogue's own
JSON builder (one statement) and compared with the hash last published, so an event exists exactly
when the change commits, and a write that changes nothing public emits nothing.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.catalogue_feed.events import ADDED, CHANGED, REMOVED
from services.registry.catalogue_feed.repository import FeedRepository, Standing
from services.registry.outbox import OUTBOX
from shared import clock
from shared.events.envelope import Envelope

FULL_LOAD_BATCH = 500


def record_hash(record: str) -> str:
    """The hash of a public record's JSON text (PostgreSQL writes the same text for the same record)."""
    return hashlib.sha256(record.encode()).hexdigest()


def removal_reason(standing: Standing) -> str:
    """Why a product left the catalogue: its certificate was revoked or ran out, it lapsed, or it was withdrawn."""
    if standing.certificate_status in ("revoked", "expired"):
        return standing.certificate_status
    if standing.certificate_expires_on is not None and standing.certificate_expires_on < clock.today():
        return "expired"
    if standing.status == "lapsed":
        return "lapsed"
    return "withdrawn"


def change_of(standing: Standing) -> tuple[str, dict[str, Any]] | None:
    """The event type and data a product's standing calls for, or None when the public view is unchanged."""
    product_id = str(standing.product_id)
    if standing.listed and standing.record is not None:
        if not standing.published:
            event_type = ADDED
        elif standing.published_hash != record_hash(standing.record):
            event_type = CHANGED
        else:
            return None
        return event_type, {"product_id": product_id, "record": orjson.loads(standing.record), "reason": None}
    if standing.published:
        return REMOVED, {"product_id": product_id, "record": None, "reason": removal_reason(standing)}
    return None


@dataclass(frozen=True)
class Published:
    """How many events of each type a call emitted."""

    added: int = 0
    changed: int = 0
    removed: int = 0


async def publish_changes(session: AsyncSession, *, product_ids: Sequence[uuid.UUID]) -> Published:
    """Emit the catalogue events the products' current public records call for, and remember them."""
    if not product_ids:
        return Published()
    repository = FeedRepository(session)
    envelopes: list[Envelope] = []
    remembered: list[dict[str, Any]] = []
    for standing in await repository.standings(sorted(set(product_ids)), clock.today()):
        change = change_of(standing)
        if change is None:
            continue
        event_type, data = change
        envelopes.append(
            OUTBOX.envelope(type=event_type, subject=f"product/{standing.product_id}", data=data)
        )
        listed = event_type != REMOVED
        remembered.append({
            "product_id": standing.product_id, "in_catalogue": listed,
            "record_hash": record_hash(standing.record) if listed and standing.record is not None else None,
        })  # fmt: skip
    await OUTBOX.emit_many(session, envelopes)
    await repository.record(remembered)
    types = [envelope.type for envelope in envelopes]
    return Published(types.count(ADDED), types.count(CHANGED), types.count(REMOVED))


async def publish_entity_changes(session: AsyncSession, *, entity_ids: Sequence[uuid.UUID]) -> Published:
    """``publish_changes`` for the public products of entities whose own fields changed (the record shows them)."""
    if not entity_ids:
        return Published()
    today = clock.today()
    ids = await FeedRepository(session).candidates(today, after=None, limit=100_000, entity_ids=entity_ids)
    return await publish_changes(session, product_ids=ids)


async def publish_all(session: AsyncSession, *, batch: int = FULL_LOAD_BATCH) -> Published:
    """The whole catalogue's state, published a batch of products at a time (the first load, after a restore)."""
    repository = FeedRepository(session)
    totals = Published()
    after: uuid.UUID | None = None
    while ids := await repository.candidates(clock.today(), after=after, limit=batch):
        done = await publish_changes(session, product_ids=ids)
        totals = Published(
            totals.added + done.added, totals.changed + done.changed, totals.removed + done.removed
        )
        after = ids[-1]
    return totals
