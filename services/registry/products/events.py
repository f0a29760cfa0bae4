"""The product's integration event: ``registry.product.updated``, subject ``product/<product id>``.

Emitted in the transaction of every write that changes a product's record (registration, updates,
imports, status moves, images, certification), after the writes: its data is the product as it now
stands (docs/EVENTS.md has its JSON Schema), built by one statement for the whole batch, and its
``version`` grows with every snapshot of the product, so a consumer keeps the largest it has seen.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.outbox import OUTBOX
from services.registry.products.repository import ProductRepository
from shared import clock

PRODUCT_UPDATED = "registry.product.updated"


async def emit_updated(
    session: AsyncSession, product_ids: Iterable[uuid.UUID], *, destination: str | None = None
) -> None:
    """One ``registry.product.updated`` per product (in the order given), in one insert.

    With ``destination``, only that subscriber receives them (an answer to its snapshot request).
    """
    ordered = list(dict.fromkeys(product_ids))
    snapshots = await ProductRepository(session).snapshots(ordered, clock.today())
    envelopes = [
        OUTBOX.envelope(type=PRODUCT_UPDATED, subject=f"product/{product_id}", data=snapshots[product_id])
        for product_id in ordered
    ]
    if destination is None:
        await OUTBOX.emit_many(session, envelopes)
    else:
        await OUTBOX.emit_many_to(session, envelopes, destination)
