"""The lifecycle job: whole-batch changes queued by POST /v1/stamps/{action}, applied a chunk per transaction.

Each chunk commits its stamps, their audit items, their EPCIS events and the change's progress together
(service.run_change_chunk), so a process stopped mid-way leaves the change ``running`` after its last
committed chunk; the next pass (here or in another process) goes on from there and moves no stamp twice.
A chunk that fails marks the change failed; asking again queues a new change that skips what has moved.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from services.stamps.lifecycle import service
from shared.db import Database
from shared.jobs import WakeableJob

logger = logging.getLogger("services.stamps.lifecycle.runner")


class ChangeJobs(WakeableJob):
    """Applies queued (and cut short) changes, every ``every_s`` or when a request queues one."""

    name = "stamp lifecycle changes"

    def __init__(
        self, database: Callable[[], Database], *, every_s: float, chunk: int, resolver_host: str
    ) -> None:
        super().__init__(every_s=every_s)
        self.database = database
        self.chunk = chunk
        self.resolver_host = resolver_host

    async def run_once(self) -> int:
        """Apply every pending change to its end; the chunks applied."""
        async with self.database().sessionmaker() as session:
            due = await service.pending_changes(session, limit=20)
        return sum([await self.run_change(change_id) for change_id in due])

    async def run_change(self, change_id: int, *, chunks: int | None = None) -> int:
        """Apply the change's chunks until it is done (at most ``chunks`` of them); how many were applied."""
        applied = 0
        while chunks is None or applied < chunks:
            try:
                async with self.database().sessionmaker.begin() as session:
                    more = await service.run_change_chunk(
                        session, change_id=change_id, chunk=self.chunk, resolver_host=self.resolver_host
                    )
            except Exception as exc:
                logger.exception("stamp change %s: a chunk failed", change_id)
                async with self.database().sessionmaker.begin() as session:
                    await service.fail_change(
                        session, change_id=change_id, message=f"{type(exc).__name__}: {exc}"[:2000]
                    )
                return applied
            applied += 1
            if not more:
                break
        return applied
