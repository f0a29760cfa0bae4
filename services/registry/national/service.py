"""The initial load: every product in the public catalogue now, posted to the national system as ``added``."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from dataclasses import dataclass

import orjson

from services.registry.catalogue import service as catalogue
from services.registry.national.render import ADDED
from shared import clock
from shared.db import ReadPool
from shared.events.envelope import Envelope
from shared.events.relay import Destination, delivery_request
from shared.http import DeliveryClient, UpstreamError

# The namespace of the export's event ids (uuid5): fixed, so the same product and record give the same id.
EXPORT_NAMESPACE = uuid.UUID("5b0c7f0e-6d1c-4c43-9f0e-0c0c0a7e2026")
INITIAL_LOAD = "initial_load"


def export_event_id(product_id: uuid.UUID, record: str) -> uuid.UUID:
    """The stable id of a product's record in an export: the same until the record changes."""
    digest = hashlib.sha256(record.encode()).hexdigest()
    return uuid.uuid5(EXPORT_NAMESPACE, f"{product_id}/{digest}")


def export_envelope(product_id: uuid.UUID, record: str) -> Envelope:
    """The ``added`` event of one product of the export (never stored: rendered like the relay's)."""
    return Envelope(
        id=export_event_id(product_id, record), type=ADDED, occurred_at=clock.now(), source="registry",
        subject=f"product/{product_id}",
        data={"product_id": str(product_id), "record": orjson.loads(record), "reason": INITIAL_LOAD},
    )  # fmt: skip


@dataclass
class ExportSummary:
    """What an export did: products read, bodies accepted and refused, pages, time."""

    dry_run: bool
    products: int = 0
    sent: int = 0
    refused: int = 0
    pages: int = 0
    seconds: float = 0.0
    first_refusal: str | None = None


async def _post(
    client: DeliveryClient, destination: Destination, envelope: Envelope, limit: asyncio.Semaphore
) -> str | None:
    """Post one body; the reason it was refused, or None once the endpoint accepted it."""
    body, headers = delivery_request(destination, envelope)
    async with limit:
        try:
            answer = await client.post(destination.url, body, headers, timeout_s=destination.timeout_s)
        except UpstreamError as exc:
            return str(exc)
    return None if 200 <= answer.status < 300 else f"answered {answer.status}: {answer.body[:300]}"


async def export_catalogue(
    pool: ReadPool,
    *,
    destination: Destination | None,
    client: DeliveryClient | None,
    page_size: int,
    concurrency: int = 8,
) -> ExportSummary:
    """Post the catalogue a page at a time (dry run when ``destination`` or ``client`` is None).

    Stops after the page where the endpoint refused anything: running it again is harmless, the ids
    of unchanged records being the same.
    """
    summary = ExportSummary(dry_run=destination is None or client is None)
    started = time.monotonic()
    limit = asyncio.Semaphore(concurrency)
    async for page in catalogue.public_record_pages(pool, page_size=page_size):
        summary.pages += 1
        summary.products += len(page)
        envelopes = [export_envelope(product_id, record) for product_id, record in page]
        if destination is None or client is None:
            continue
        refusals = await asyncio.gather(
            *(_post(client, destination, envelope, limit) for envelope in envelopes)
        )
        refused = [reason for reason in refusals if reason is not None]
        summary.sent += len(refusals) - len(refused)
        summary.refused += len(refused)
        if refused:
            summary.first_refusal = summary.first_refusal or refused[0]
            break
    summary.seconds = round(time.monotonic() - started, 3)
    return summary
