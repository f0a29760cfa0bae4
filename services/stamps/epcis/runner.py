"""The capture job runner: stores captured EPCIS documents, many jobs per transaction, in a service process.

A pass claims the oldest running jobs (``FOR UPDATE SKIP LOCKED``, so several processes may run the
runner; at most ``PASS_JOBS`` jobs and ``PASS_BYTES`` of documents) and stores them in one transaction,
one statement per table (``service.run_capture_jobs``): each job all or nothing (``rollback``) or its
valid events (``proceed``). When a pass raises, nothing of it is kept and its jobs are run again one per
transaction; a job whose processing still raises is closed as a failure in a transaction of its own, so
it is not retried forever.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from services.stamps.config import EpcisSettings
from services.stamps.epcis import service
from services.stamps.epcis.repository import ClaimedJob
from shared.db import Database
from shared.jobs import WakeableJob

logger = logging.getLogger("services.stamps.epcis.runner")

# One pass (one transaction) holds at most this many jobs, and their documents at most this many bytes
# (the oldest job always, whatever its size).
PASS_JOBS = 500
PASS_BYTES = 8 * 1024 * 1024


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
            claimed: list[ClaimedJob] = []
            try:
                async with self.database().sessionmaker.begin() as session:
                    claimed = await service.claim_capture_jobs(
                        session, max_jobs=PASS_JOBS, max_bytes=PASS_BYTES
                    )
                    if not claimed:
                        return done
                    done += await service.run_capture_jobs(session, jobs=claimed, limits=self.limits)
            except Exception as exc:
                if not claimed:
                    raise
                if len(claimed) == 1:
                    await self._fail(claimed[0], exc)
                    done += 1
                else:
                    logger.exception(
                        "a pass of %s capture jobs failed: each is run again on its own", len(claimed)
                    )
                    done += await self._one_by_one(claimed)

    async def _one_by_one(self, claimed: list[ClaimedJob]) -> int:
        """Run each job of a failed pass in a transaction of its own (a job now closed elsewhere is skipped)."""
        done = 0
        for job in claimed:
            try:
                async with self.database().sessionmaker.begin() as session:
                    one = await service.claim_capture_job(session, job_id=job.id)
                    if one is not None:
                        done += await service.run_capture_jobs(session, jobs=[one], limits=self.limits)
            except Exception as exc:
                await self._fail(job, exc)
                done += 1
        return done

    async def _fail(self, job: ClaimedJob, exc: Exception) -> None:
        logger.exception("capture job %s failed", job.id)
        async with self.database().sessionmaker.begin() as session:
            await service.fail_capture_job(
                session, job_id=job.id, message=f"the capture failed: {type(exc).__name__}"
            )
