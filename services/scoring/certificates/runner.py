"""The scheduled certificate job: move certificates along their life (expiring, expired) for today.

Safe with several replicas: a pass runs under a transaction-level advisory lock (one replica at a
time; it is idempotent anyway). Every move emits its ``scoring.certificate.*`` event in the same
transaction; the outbox's relay delivers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from services.scoring.certificates import service
from services.scoring.certificates.repository import CertificateRepository
from shared import clock
from shared.db import Database

logger = logging.getLogger("services.scoring.certificates.runner")


async def run_once(database: Database) -> int:
    """One pass: statuses for today, unless another replica is at it; how many certificates moved."""
    async with database.sessionmaker.begin() as session:
        if await CertificateRepository(session).take_job_lock():
            return await service.advance_statuses(session, today=clock.today())
    return 0


class CertificateJobs:
    """The job's loop in a service process: every ``every_s`` seconds."""

    def __init__(self, database: Callable[[], Database], *, every_s: float) -> None:
        self.database = database
        self.every_s = every_s
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while True:
            try:
                await run_once(self.database())
            except Exception:  # the loop must outlive a database restart or a bug in one pass
                logger.exception("certificate job pass failed")
            await asyncio.sleep(self.every_s)

    def start(self) -> None:
        """Start the loop."""
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        """Stop the loop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
