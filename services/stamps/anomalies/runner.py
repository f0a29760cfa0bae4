"""The anomaly detector: a background job that examines new scans every few seconds.

It runs in a child process of the stamps service, at a lower CPU priority (``anomaly_detector``,
``commands/detect_anomalies.py``): its rounds cost about as much CPU per scan as the verification
itself and, on the service's event loop, would hold verifications up behind them. Even there its
queries compete with verifications for PostgreSQL and the CPU: while the CPU is under pressure (Linux
PSI, ``shared/pressure.py``) it waits, up to ``max_yield_s`` since it last caught up, and behind a burst
it works at most ``busy_share`` of the time.

Scan ids and times are taken before their transaction commits, so a scan may appear after a later one.
Each round therefore reads only scans older than ``settle_s``, and reads again ``overlap_s`` behind
its watermark, skipping the scans it has examined (ids kept for the overlap). The watermark and those
ids are stored (``anomaly_detector_state``) in the transaction of the round's anomalies
(service.detection_round): a restarted process goes on where the last round ended, examining nothing
twice and missing nothing however long it was stopped. A scan whose consumer shares its location
later, from the scan's page, is examined again once that is committed (by the time it was shared, in the
same window and overlap; those ids are stored too). Only with no stored state (the first start) does
it look ``lookback_h`` back. Examining a scan twice would be harmless anyway: a firing is not raised
again while an anomaly of the same rule on the same subject was open at the scan's time within the
rule's window (the same scan included), and the risk is recomputed from the history.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime

from services.stamps.anomalies import service
from services.stamps.config import AnomalySettings, StampsSettings
from shared.children import stop_signal
from shared.db import Database
from shared.pressure import PressureGauge

logger = logging.getLogger("services.stamps.anomalies.runner")
# The loop's clock and wait, by name so that a test can drive them.
monotonic = time.monotonic
pause = asyncio.sleep


class AnomalyDetector:
    """Examines the scan log round by round (``run_once``), every ``every_s`` once started."""

    def __init__(
        self, database: Callable[[], Database], settings: AnomalySettings, *, every_s: float,
        since: datetime | None = None, pressure: PressureGauge | None = None,
    ) -> None:  # fmt: skip
        self.database = database
        self.settings = settings
        self.every_s = every_s
        # Where a detector with no stored state starts (default: ``lookback_h`` back).
        self.since = since
        self.pressure = pressure or PressureGauge()
        # When a round last found no more scans waiting (the loop's clock).
        self._caught_up_at: float | None = None
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> service.DetectionRound:
        """One round, in one transaction: what it examined and raised (rounds repeat while a round is full)."""
        async with self.database().sessionmaker.begin() as session:
            found = await service.detection_round(session, settings=self.settings, start=self.since)
        if found.to_suspend:
            logger.warning(
                "repeated impossible travel: %s (%d suspended)", ", ".join(found.to_suspend), found.suspended
            )
        return found

    async def _loop(self) -> None:
        self._caught_up_at = monotonic()
        while True:
            if not self._yielding():
                try:
                    found = await self._timed_round()
                    while found.full and not self._yielding():
                        found = await self._timed_round()
                    if not found.full:
                        self._caught_up_at = monotonic()
                except Exception:  # the loop must outlive a database restart or one bad round
                    logger.exception("anomaly detection round failed")
            await self._wait(self.every_s)

    async def _wait(self, seconds: float) -> None:
        """Wait, measuring the CPU pressure meanwhile (the detector's own work does not count)."""
        try:
            self.pressure.start()
        except Exception:
            logger.exception("CPU pressure could not be read")
        await pause(seconds)

    def _yielding(self) -> bool:
        """Whether to leave the CPU to requests now: it was under pressure during the last wait, and no
        scan has waited unexamined for ``max_yield_s`` yet (an unreadable pressure never holds it back)."""
        try:
            share = self.pressure.share()
        except Exception:  # the loop must outlive a gauge that fails; detecting matters more than yielding
            logger.exception("CPU pressure could not be read")
            return False
        if share is None or share <= self.settings.yield_above_pressure:
            return False
        behind_s = monotonic() - (self._caught_up_at or 0.0)
        return behind_s < self.settings.max_yield_s

    async def _timed_round(self) -> service.DetectionRound:
        """One round; a full one (more scans wait) is followed by a pause, so that rounds take ``busy_share``."""
        started = monotonic()
        found = await self.run_once()
        if found.full:
            took = monotonic() - started
            await self._wait(took * (1 / self.settings.busy_share - 1))
        return found

    def start(self) -> None:
        """Start the loop."""
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        """Stop the loop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def run_alone(settings: StampsSettings, *, with_parent: bool) -> None:
    """Run the detector in this process until it is told to stop (the stamps service's child, or alone)."""
    database = Database.connect(
        settings.database_url.get_secret_value(), application_name="stamps-detector", pool_size=1,
        max_overflow=0, statement_timeout_ms=settings.db_statement_timeout_ms,
    )  # fmt: skip
    detector = AnomalyDetector(lambda: database, settings.anomalies, every_s=settings.anomaly_job_every_s)
    stopping = stop_signal(with_parent)
    detector.start()
    try:
        await stopping.wait()
    finally:
        await detector.stop()
        await database.dispose()
