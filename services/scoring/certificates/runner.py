"""The scheduled certificate job: move certificates along their life, then announce what changed.

Safe with several replicas: the status pass runs under a transaction-level advisory lock (one
replica at a time; it is idempotent anyway) and announcements claim rows with ``SKIP LOCKED``.
A request that changes a certificate wakes the job, so the registry hears of it within moments.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from services.scoring.certificates import service
from services.scoring.certificates.repository import CertificateRepository
from services.scoring.registry import RegistryClient
from shared import clock
from shared.db import Database

logger = logging.getLogger("services.scoring.certificates.runner")
BATCH = 50


async def run_once(database: Database, registry: RegistryClient) -> service.SyncReport:
    """One pass: statuses for today (if no other replica is at it), then every due announcement."""
    async with database.sessionmaker.begin() as session:
        if await CertificateRepository(session).take_job_lock():
            await service.advance_statuses(session, today=clock.today())
    synced = failed = 0
    while True:
        async with database.sessionmaker.begin() as session:
            report = await service.announce_due(session, registry=registry, limit=BATCH)
        synced, failed = synced + report.synced, failed + report.failed
        if report.failed or report.synced < BATCH:
            return service.SyncReport(synced, failed)


class CertificateJobs:
    """The job's loop in a service process: every ``every_s`` seconds, or sooner when woken."""

    def __init__(self, database: Callable[[], Database], registry: RegistryClient, *, every_s: float) -> None:
        self.database = database
        self.registry = registry
        self.every_s = every_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Run the next pass now (a certificate changed)."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                await run_once(self.database(), self.registry)
            except Exception:  # the loop must outlive a database restart or a bug in one pass
                logger.exception("certificate job pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.every_s)

    def start(self) -> None:
        """Start the loop."""
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        """Stop the loop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
