"""Every SQL statement of printing: the stamps of a batch streamed from a server-side cursor, one stamp, the audit."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, select

from services.stamps.batches.models import StampBatch
from services.stamps.lifecycle.models import Stamp
from services.stamps.printing.labels import PrintStamp
from services.stamps.printing.models import PrintDownload
from shared.repository import Repository

STAMPS = cast(Table, Stamp.__table__)
BATCHES = cast(Table, StampBatch.__table__)
# Rows a FETCH of the server-side cursor brings: a few hundred kilobytes, whatever the batch's size.
FETCH_ROWS = 2_000


class PrintRepository(Repository[PrintDownload]):
    """Reads stamps for printing and records the downloads, within the caller's transaction."""

    model = PrintDownload

    async def stamps_of(self, batch_id: uuid.UUID) -> AsyncGenerator[Sequence[PrintStamp]]:
        """The batch's stamps in serial order, a fetch at a time (a server-side cursor: never the whole batch)."""
        query = (
            select(STAMPS.c.serial, STAMPS.c.lot)
            .where(STAMPS.c.batch_id == batch_id)
            .order_by(STAMPS.c.serial)
            .execution_options(yield_per=FETCH_ROWS)
        )
        result = await self.session.stream(query)
        async for rows in result.partitions():
            yield [PrintStamp(row.serial, row.lot) for row in rows]

    async def stamp(self, serial: str) -> Row[Any] | None:
        """A stamp with what printing and access need of its batch (gtin, status, entity, province)."""
        query = select(
            STAMPS.c.serial, STAMPS.c.lot, STAMPS.c.state, STAMPS.c.batch_id, BATCHES.c.gtin,
            BATCHES.c.status.label("batch_status"), BATCHES.c.entity_id, BATCHES.c.province_code,
        ).join(BATCHES, BATCHES.c.id == STAMPS.c.batch_id).where(STAMPS.c.serial == serial)  # fmt: skip
        return cast(Row[Any] | None, (await self.session.execute(query)).first())
