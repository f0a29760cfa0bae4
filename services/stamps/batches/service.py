"""The rules of stamp batches: who requests and decides, what may be stamped, and the generation's progress."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.stamps import policies
from services.stamps.batches.errors import (
    BatchNotFound,
    BatchStateConflict,
    ProductHasNoGtin,
    ProductNotCertified,
    ProductNotFound,
)
from services.stamps.batches.models import StampBatch
from services.stamps.batches.repository import BatchRepository
from services.stamps.batches.schemas import BatchCreate
from services.stamps.snapshot import service as snapshot
from shared import clock
from shared.errors import InvalidField
from shared.pagination import KeysetPage, decode_cursor
from shared.security.dependencies import Forbidden, require_authenticated
from shared.security.principal import Principal
from shared.security.scopes import Place

# A product's stamps may be requested while its certificate is in force (an expiring one still is).
STAMPABLE = frozenset({"certified", "expiring"})


@dataclass(frozen=True)
class BatchProgress:
    """A batch with how far its generation is."""

    batch: StampBatch
    done: int
    total: int
    rate_per_s: float | None
    eta_s: float | None


def _place(batch: StampBatch) -> Place:
    return Place(batch.entity_id, None, batch.province_code)


def progress(batch: StampBatch) -> BatchProgress:
    """Done of total, the rate since the generation started and the time left at that rate."""
    rate = eta = None
    if batch.generation_started_at is not None and batch.generated > 0:
        until = batch.generation_finished_at or clock.now()
        elapsed = (until - batch.generation_started_at).total_seconds()
        if elapsed > 0:
            rate = batch.generated / elapsed
            eta = 0.0 if batch.generated >= batch.quantity else (batch.quantity - batch.generated) / rate
    return BatchProgress(batch, batch.generated, batch.quantity, rate, eta)


async def request_batch(
    session: AsyncSession, *, principal: Principal, data: BatchCreate, max_batch: int, today: date
) -> BatchProgress:
    """A producer's request for stamps of its product, allowed while the product's certificate is in force."""
    require_authenticated(principal)
    product = await snapshot.certification_of(session, product_id=data.product_id, today=today)
    place = Place(product.entity_id, product.commune_code, product.province_code) if product else None
    if product is None or place is None or not policies.can_read(principal, place):
        raise ProductNotFound(f"No product {data.product_id}", field="body.product_id")
    if not policies.can_request(principal, place):
        raise Forbidden("Stamps are requested by the product's own producer.")
    if data.quantity > max_batch:
        raise InvalidField(
            "body.quantity", f"at most {max_batch:,} stamps in one batch", code="less_than_equal"
        )
    if product.verdict not in STAMPABLE:
        raise ProductNotCertified(
            f"Product {data.product_id} holds no OCOP certificate in force today ({product.verdict})",
            field="body.product_id",
        )
    if not product.gtin:
        raise ProductHasNoGtin(
            f"Product {data.product_id} has no GTIN to put in its stamps' links", field="body.product_id"
        )
    batch = StampBatch(
        id=uuid.uuid4(), product_id=data.product_id, entity_id=product.entity_id, province_code=product.province_code,
        gtin=product.gtin.zfill(14), lot=data.lot, quantity=data.quantity, status="requested",
        requested_by=principal.sub, generated=0,
    )  # fmt: skip
    return progress(await BatchRepository(session).add(batch))


async def _visible_for_update(session: AsyncSession, principal: Principal, batch_id: uuid.UUID) -> StampBatch:
    require_authenticated(principal)
    batch = await BatchRepository(session).get_for_update(batch_id)
    if batch is None or not policies.can_read(principal, _place(batch)):
        raise BatchNotFound(f"No stamp batch {batch_id}")
    return batch


async def decide(
    session: AsyncSession, *, principal: Principal, batch_id: uuid.UUID, approve: bool, reason: str | None
) -> BatchProgress:
    """Approve (its generation starts) or reject (with a reason) a requested batch: its province's officers."""
    batch = await _visible_for_update(session, principal, batch_id)
    if not policies.can_decide(principal, _place(batch)):
        raise Forbidden("A batch is decided by an officer of its province.")
    if batch.status != "requested":
        raise BatchStateConflict(f"Batch {batch_id} is {batch.status}", current_status=batch.status)
    batch.status = "approved" if approve else "rejected"
    batch.decided_by, batch.decided_at, batch.decision_reason = principal.sub, clock.now(), reason
    return progress(await BatchRepository(session).save(batch))


async def get_batch(session: AsyncSession, *, principal: Principal, batch_id: uuid.UUID) -> BatchProgress:
    """A batch the caller may see, with its progress."""
    require_authenticated(principal)
    batch = await BatchRepository(session).get(batch_id)
    if batch is None or not policies.can_read(principal, _place(batch)):
        raise BatchNotFound(f"No stamp batch {batch_id}")
    return progress(batch)


async def list_batches(
    session: AsyncSession, *, principal: Principal, status: str | None, product_id: uuid.UUID | None,
    limit: int, cursor: str | None,
) -> KeysetPage[BatchProgress]:  # fmt: skip
    """The batches the caller may see, newest first."""
    require_authenticated(principal)
    page = await BatchRepository(session).list(
        policies.visibility(principal), status=status, product_id=product_id,
        after=decode_cursor(cursor, datetime, uuid.UUID), limit=limit,
    )  # fmt: skip
    return KeysetPage([progress(batch) for batch in page.items], page.next_cursor)
