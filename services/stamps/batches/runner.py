"""Generating a batch's stamps: serials from the CSPRNG, written with COPY in chunks, memory bounded.

Each chunk is one transaction (its stamps and the batch's count), so progress is visible as it goes
and a generation cut short resumes where it stopped. The next chunk's serials are drawn in a thread
while PostgreSQL takes the current one. A serial that already exists (80 random bits: about one
chance in 10¹⁴ per million against a billion stamps) fails its chunk's COPY, which is drawn again.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import asyncpg

from services.stamps.batches import repository
from services.stamps.batches.repository import BatchRepository
from shared import gs1
from shared.db import Database
from shared.jobs import WakeableJob

logger = logging.getLogger("services.stamps.batches.runner")

CHUNK = 50_000
MAX_REDRAWS = 3
# One drawing thread for every generation of the process: a thread per draw would give each its own
# malloc arena and grow the service's memory by tens of megabytes a batch.
_DRAWER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="serials")


def _draw(count: int) -> asyncio.Future[list[str]]:
    return asyncio.get_running_loop().run_in_executor(_DRAWER, gs1.new_serials, count)


async def generate(connection: asyncpg.Connection, batch_id: uuid.UUID, *, chunk: int = CHUNK) -> int:
    """Write the batch's missing stamps; how many were written now (0 if the batch is not to be generated,
    or another process is generating it)."""
    if not await repository.lock_generation(connection, batch_id):
        return 0
    try:
        return await _generate(connection, batch_id, chunk)
    finally:
        await repository.unlock_generation(connection, batch_id)


async def _generate(connection: asyncpg.Connection, batch_id: uuid.UUID, chunk: int) -> int:
    generation = await repository.start_generation(connection, batch_id)
    if generation is None:
        return 0
    remaining = generation.quantity - generation.generated
    written = 0
    try:
        drawing = _draw(min(chunk, remaining))
        while remaining > 0:
            serials = await drawing
            left_after = remaining - len(serials)
            if left_after > 0:
                drawing = _draw(min(chunk, left_after))
            await _write(connection, batch_id, serials, generation.lot)
            remaining, written = left_after, written + len(serials)
    except Exception as exc:
        await repository.finish_generation(connection, batch_id, error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    await repository.finish_generation(connection, batch_id, error=None)
    return written


async def _write(
    connection: asyncpg.Connection, batch_id: uuid.UUID, serials: list[str], lot: str | None
) -> None:
    for attempt in range(MAX_REDRAWS + 1):
        try:
            await repository.write_stamps(connection, batch_id, serials, lot)
            return
        except asyncpg.UniqueViolationError:
            if attempt == MAX_REDRAWS:
                raise
            logger.warning("batch %s: a serial of a chunk already existed; drawing the chunk again", batch_id)
            serials = await _draw(len(serials))


class BatchJobs(WakeableJob):
    """The generation job in a service process: approved batches (and ones cut short), every ``every_s`` or when woken."""

    name = "stamp generation"

    def __init__(self, database: Callable[[], Database], dsn: str, *, every_s: float) -> None:
        super().__init__(every_s=every_s)
        self.database = database
        self.dsn = dsn

    async def run_once(self) -> int:
        """Generate every due batch (those another process is generating are skipped); stamps written."""
        async with self.database().sessionmaker() as session:
            due = await BatchRepository(session).due_for_generation(limit=20)
        if not due:
            return 0
        connection = await asyncpg.connect(self.dsn)
        try:
            return sum([await generate(connection, batch_id) for batch_id in due])
        finally:
            await connection.close()
