"""The capture job runner: stores captured EPCIS documents, one job per transaction, in a service process.

A job is claimed with ``FOR UPDATE SKIP LOCKED``, so several processes may run the runner; its events
are written and the job closed in the same transaction (all or nothing with ``rollback``). A job whose
processing raises is closed as a failure in a transaction of its own, so it is not retried forever.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from services.stamps.config import EpcisSettings
from services.stamps.epcis import service
from shared.db import Database
from shared.jobs import WakeableJob

logger = logging.getLogger("services.stamps.epcis.runner")


class CaptureRunner(WakeableJob):
    """Runs capture jobs every ``every_s`` or when woken (after a capture commits)."""

    name = "EPCIS capture"

    def __init__(self, database: Callable[[], Database], limits: EpcisSettings, *, every_s: float) -> None:
        super().__init__(every_s=every_s)
        self.database = database
        self.limits = limits

    async def run_once(self) -> int:
        """Process every running job (those another runner holds are skipped); how many were processed."""
        done = 0
        while True:
            job_id = None
            try:
                async with self.database().sessionmaker.begin() as session:
                    job = await service.next_capture_job(session)
                    if job is None:
                        return done
                    job_id = job.id
                    await service.run_capture_job(session, job=job, limits=self.limits)
            except Exception as exc:
                if job_id is None:
                    raise
                logger.exception("capture job %s failed", job_id)
                async with self.database().sessionmaker.begin() as session:
                    await service.fail_capture_job(
                        session, job_id=job_id, message=f"the capture failed: {type(exc).__name__}"
                    )
            done += 1
