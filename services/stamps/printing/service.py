"""The rules of print files: who may download them, when a batch is printable, and the audit of each download.

A batch's file is streamed: access and state are checked, and the download recorded, in the request's
transaction; the stamps are then read, as the client reads the response, in a session of the file's
own from a server-side cursor, so a 1,000,000-stamp batch never sits in memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from services.stamps import policies
from services.stamps.batches import service as batches
from services.stamps.printing import exports, labels, qr, sheets
from services.stamps.printing.errors import BatchNotPrintable, StampNotFound, StampNotPrintable
from services.stamps.printing.labels import PrintStamp
from services.stamps.printing.models import PrintDownload
from services.stamps.printing.repository import PrintRepository
from shared import gs1
from shared.db import Database
from shared.errors import InvalidField
from shared.security.dependencies import require_authenticated
from shared.security.principal import Principal
from shared.security.scopes import Place

logger = logging.getLogger("services.stamps.printing")

BatchFormat = Literal["csv", "zip", "pdf"]
QrFormat = Literal["svg", "png"]
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8", "zip": "application/zip", "pdf": "application/pdf",
    "svg": "image/svg+xml", "png": "image/png",
}  # fmt: skip
# The longest the making of a file keeps the event loop (seconds).
SLICE_S = 0.005
# A stamp that is void or revoked is never printed again.
UNPRINTABLE_STATES = frozenset({"void", "revoked"})


@dataclass(frozen=True)
class PrintFile:
    """A print file as the client receives it: its name, its media type and its bytes (streamed or whole)."""

    filename: str
    media_type: str
    chunks: AsyncIterator[bytes] | None = None
    content: bytes = b""


async def _record(
    session: AsyncSession, principal: Principal, batch_id: uuid.UUID, file_format: str, stamps: int,
    serial: str | None = None,
) -> None:  # fmt: skip
    """The download in the audit table and the log: who, which batch (or stamp), which format, how many stamps."""
    actor, role = principal.sub, principal.role.value
    download = PrintDownload(
        batch_id=batch_id, serial=serial, format=file_format, stamps=stamps, actor=actor, actor_role=role
    )
    await PrintRepository(session).add(download)
    facts = {"actor": actor, "actor_role": role, "batch_id": str(batch_id), "serial": serial,
             "format": file_format, "stamps": stamps}  # fmt: skip
    logger.info("print file downloaded", extra=facts)


def _layout(given: dict[str, float | int | str]) -> sheets.Layout:
    try:
        return sheets.Layout(**given)  # type: ignore[arg-type]  # keys are Layout's own fields
    except sheets.LayoutError as error:
        raise InvalidField(f"query.{error.field}", error.message) from error


async def batch_file(
    session: AsyncSession, *, principal: Principal, batch_id: uuid.UUID, file_format: BatchFormat,
    database: Database, host: str, layout: dict[str, float | int | str] | None = None, svgs: bool | None = None,
) -> PrintFile:  # fmt: skip
    """A generated batch's print file (its producer, its province's officers, admins), recorded as downloaded.

    ``svgs`` (ZIP): one SVG per stamp beside the CSV; unset, as many as the library allows (up to
    ``exports.MAX_SVG_ENTRIES`` stamps, else the CSV alone); asked for past that, a 422.
    """
    batch = (await batches.get_batch(session, principal=principal, batch_id=batch_id)).batch
    if batch.status != "generated":
        raise BatchNotPrintable(
            f"Batch {batch_id} is {batch.status}: its print files exist once it is generated",
            current_status=batch.status,
        )
    sheet = _layout(layout or {}) if file_format == "pdf" else None
    if file_format == "zip":
        if svgs and not exports.with_svgs(batch.generated):
            raise InvalidField(
                "query.svgs",
                f"at most {exports.MAX_SVG_ENTRIES:,} stamps get an SVG each: export the CSV alone",
            )
        svgs = exports.with_svgs(batch.generated) if svgs is None else svgs
    await _record(session, principal, batch_id, file_format, batch.generated)

    async def stamps() -> AsyncIterator[PrintStamp]:
        async with (
            database.sessionmaker() as own,
            own.begin(),
            aclosing(PrintRepository(own).stamps_of(batch_id)) as fetches,
        ):
            async for fetch in fetches:
                handed_at = time.monotonic()
                for stamp in fetch:
                    yield stamp
                    # The file is made as it is pulled, in pure Python between two fetches: hand the event
                    # loop back every few milliseconds so the service's other requests are not held up.
                    if time.monotonic() - handed_at > SLICE_S:
                        await asyncio.sleep(0)
                        handed_at = time.monotonic()

    items = labels.labels(stamps(), gtin=batch.gtin, host=host)
    if file_format == "csv":
        chunks = exports.csv_chunks(items)
    elif file_format == "zip":
        chunks = exports.zip_chunks(items, svgs=bool(svgs))
    else:
        chunks = sheets.pdf_chunks(items, domain=labels.short_domain(host), layout=sheet)
    return PrintFile(f"stamps-{batch_id}.{file_format}", MEDIA_TYPES[file_format], chunks=chunks)


async def stamp_qr(
    session: AsyncSession, *, principal: Principal, serial: str, file_format: QrFormat, host: str,
    scale: float, unit: str | None = None,
) -> PrintFile:  # fmt: skip
    """One stamp's QR code (its batch's readers), recorded as downloaded; ``scale`` per module (px for PNG)."""
    require_authenticated(principal)
    problem = gs1.serial_problem(serial)
    if problem is not None:
        raise InvalidField("path.serial", problem)
    stamp = await PrintRepository(session).stamp(serial)
    if stamp is None or not policies.can_read(principal, Place(stamp.entity_id, None, stamp.province_code)):
        raise StampNotFound(f"No stamp {serial}")
    if stamp.batch_status != "generated":
        raise BatchNotPrintable(
            f"Stamp {serial}'s batch is {stamp.batch_status}", current_status=stamp.batch_status
        )
    if stamp.state in UNPRINTABLE_STATES:
        raise StampNotPrintable(f"Stamp {serial} is {stamp.state}", current_state=stamp.state)
    uri = labels.label(PrintStamp(stamp.serial, stamp.lot), gtin=stamp.gtin, host=host).uri
    content = qr.svg(uri, scale=scale, unit=unit) if file_format == "svg" else qr.png(uri, scale=int(scale))
    await _record(session, principal, stamp.batch_id, file_format, 1, serial=serial)
    return PrintFile(f"{serial}.{file_format}", MEDIA_TYPES[file_format], content=content)
