"""The scan log's writer: concurrent verifications are judged and logged together, each answered after its
batch has committed.

One round trip per statement is what a verification costs (PLATFORM-NOTES: batching concurrent scans into
one statement reached 76 % of a bare endpoint, a transaction per scan 31 %). Each batch reads the facts of
every serial it names in one statement, judges every scan in Python, then logs all the scans and adds to
the stamps' scan summaries in a second statement; no scan is answered before that statement has
committed, so every answer given is durably logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import asyncpg

from services.stamps.verification import repository
from services.stamps.verification.repository import ScanRow, SummaryRow
from services.stamps.verification.verdicts import (
    MALFORMED,
    ScanHistory,
    StampFacts,
    Verdict,
    history_after,
    judge,
)
from shared import clock
from shared.db import ReadPool

log = logging.getLogger(__name__)

HASH_BYTES = 16
# Partitions and salts are looked after this often (and at start).
UPKEEP_EVERY = timedelta(hours=6)


@dataclass(slots=True)
class ScanRequest:
    """One verification as the route received it; ``serial`` is None when the link was malformed."""

    serial: str | None
    gtin: str | None
    lot: str | None
    path: str | None
    channel: str
    ip: str | None
    device: str | None
    user_agent: str | None
    latitude: float | None = None
    longitude: float | None = None
    accuracy_m: float | None = None
    scanned_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Verification:
    """The answer to one scan, once it is logged."""

    verdict: Verdict
    facts: StampFacts | None
    history: ScanHistory | None
    scanned_at: datetime
    # The scan's id in the log, for a browser's scan (its page's token names it); 0 for the others.
    scan_id: int = 0


class ScanLogUnavailable(Exception):
    """The scan could not be logged (the database is unreachable): no verdict is given without a log."""


ProvinceAt = Callable[[float, float], str | None]


class ScanLog:
    """Batches concurrent scans: one read and one committed write per batch, whatever its size."""

    def __init__(
        self, pool: ReadPool, *, device_key: bytes, max_batch: int = 256, salt_days: int = 30,
        partitions_ahead: int = 12, province_at: ProvinceAt | None = None, in_flight: int = 1,
    ) -> None:  # fmt: skip
        self._pool = pool
        self._device_key = device_key
        self._max_batch = max_batch
        # Batches logged at once (each on a connection of the pool): the next batch need not wait for the
        # last one's round trips. A serial is in one flight at a time, so its count and summary stay exact.
        self._max_in_flight = in_flight
        self._flights: set[asyncio.Task[None]] = set()
        self._serials_in_flight: set[str] = set()
        # Scans of a serial in flight, in arrival order: back to the head of the line when it lands.
        self._held: dict[str, list[tuple[ScanRequest, asyncio.Future[Verification]]]] = {}
        self._salt_days = salt_days
        self._partitions_ahead = partitions_ahead
        self._province_at = province_at
        self._pending: deque[tuple[ScanRequest, asyncio.Future[Verification]]] = deque()
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._salts: dict[date, bytes] = {}
        self._upkept_at: datetime | None = None

    async def start(self) -> None:
        """Look after partitions and salts, then start taking scans."""
        await self.upkeep()
        self._task = asyncio.create_task(self._run(), name="scan-log")

    async def stop(self) -> None:
        """Finish the scans already taken, then stop."""
        if self._task is None:
            return
        task, self._task = self._task, None
        if self._pending or self._flights or self._held:
            self._drained.clear()
            self._wake.set()
            await self._drained.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def verify(self, request: ScanRequest) -> Verification:
        """The verdict on ``request``, returned once its scan is committed to the log."""
        if self._task is None:
            raise ScanLogUnavailable("the scan log is not running")
        if request.scanned_at is None:
            request.scanned_at = clock.now()
        future: asyncio.Future[Verification] = asyncio.get_running_loop().create_future()
        self._pending.append((request, future))
        self._wake.set()
        return await future

    async def upkeep(self) -> None:
        """Create the coming months' scan partitions and forget salts past their days."""
        today = clock.today()
        async with self._pool.acquire() as connection:
            created = await repository.ensure_partitions(
                connection, today.replace(day=1), self._partitions_ahead + 1
            )
            dropped = await repository.drop_salts_before(connection, today - timedelta(days=self._salt_days))
        if created or dropped:
            log.info("scan log upkeep: %d partitions created, %d salts dropped", created, dropped)
        self._upkept_at = clock.now()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending and len(self._flights) < self._max_in_flight:
                batch = self._next_batch()
                if not batch:
                    break  # what waits names serials in flight: their flights' landing wakes us
                flight = asyncio.create_task(self._fly(batch), name="scan-log-batch")
                self._flights.add(flight)
                flight.add_done_callback(self._landed)
            if not self._pending and not self._flights and not self._held:
                self._drained.set()
            if self._upkept_at is not None and clock.now() - self._upkept_at > UPKEEP_EVERY:
                with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                    await self.upkeep()

    def _next_batch(self) -> list[tuple[ScanRequest, asyncio.Future[Verification]]]:
        """Up to ``max_batch`` waiting scans, in arrival order, of serials no flight is logging."""
        batch: list[tuple[ScanRequest, asyncio.Future[Verification]]] = []
        while self._pending and len(batch) < self._max_batch:
            item = self._pending.popleft()
            serial = item[0].serial
            if serial is not None and serial in self._serials_in_flight:
                # Set aside once, not looked at again until its serial lands: a flood of one serial
                # costs each scan one look, not one per wake-up.
                self._held.setdefault(serial, []).append(item)
            else:
                batch.append(item)
        self._serials_in_flight.update(request.serial for request, _ in batch if request.serial is not None)
        return batch

    def _landed(self, flight: asyncio.Task[None]) -> None:
        self._flights.discard(flight)
        self._wake.set()

    async def _fly(self, batch: list[tuple[ScanRequest, asyncio.Future[Verification]]]) -> None:
        try:
            answers = await self._log(batch)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            log.warning("scan log: a batch of %d scans was not logged: %s", len(batch), exc)
            for _, future in batch:
                if not future.done():
                    future.set_exception(ScanLogUnavailable(str(exc)))
        except Exception as exc:
            log.exception("scan log: a batch of %d scans failed", len(batch))
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
        else:
            for (_, future), answer in zip(batch, answers, strict=True):
                if not future.done():
                    future.set_result(answer)
        finally:
            landed = {request.serial for request, _ in batch if request.serial is not None}
            self._serials_in_flight.difference_update(landed)
            released = [item for serial in landed for item in self._held.pop(serial, [])]
            # Ahead of later arrivals; among themselves in arrival order (verify() timed each), so their
            # counts rise as they came.
            released.sort(key=lambda item: item[0].scanned_at or clock.now())
            self._pending.extendleft(reversed(released))

    async def _log(self, batch: list[tuple[ScanRequest, asyncio.Future[Verification]]]) -> list[Verification]:
        # Each scan is judged at the time it arrived (its request's clock), and its address hashed with
        # the salt of that day in Vietnam.
        days = {clock.vietnam_date(request.scanned_at or clock.now()) for request, _ in batch}
        serials = {request.serial for request, _ in batch if request.serial is not None}
        async with self._pool.acquire() as connection:
            salts = {day: await self._salt_of(connection, day) for day in days}
            known = await repository.facts_of(connection, list(serials), min(days)) if serials else {}
            answers, scans, summaries = self._judge(batch, known, salts)
            # A browser's scan is answered with the address of its page, which names the scan by its id.
            numbered = any(request.channel == "html" for request, _ in batch)
            ids = await repository.record_scans(connection, scans, summaries.values(), numbered=numbered)
        if ids is None:
            return answers
        return [dataclasses.replace(answer, scan_id=id_) for answer, id_ in zip(answers, ids, strict=True)]

    def _judge(
        self, batch: list[tuple[ScanRequest, asyncio.Future[Verification]]], known: dict[str, StampFacts],
        salts: dict[date, bytes],
    ) -> tuple[list[Verification], list[ScanRow], dict[str, SummaryRow]]:  # fmt: skip
        answers: list[Verification] = []
        scans: list[ScanRow] = []
        summaries: dict[str, SummaryRow] = {}
        for request, _ in batch:
            at = request.scanned_at or clock.now()
            today = clock.vietnam_date(at)
            salt = salts[today]
            province = self._province(request)
            facts = known.get(request.serial) if request.serial is not None else None
            if request.serial is None:
                verdict, history = MALFORMED, None
            else:
                verdict = judge(facts, gtin=request.gtin, lot=request.lot, today=today, now=at)
                counted = facts is not None and verdict.outcome != "unknown"
                if counted and facts is not None:
                    summary = summaries.get(facts.serial)
                    history = history_after(
                        facts, earlier_in_batch=summary.count if summary else 0, now=at, province=province
                    )
                    if summary is None:
                        summaries[facts.serial] = SummaryRow(facts.serial, 1, at, province, at)
                    else:
                        summary.count += 1
                        summary.last_at = max(summary.last_at, at)
                else:
                    history = None
            answers.append(
                Verification(verdict, facts if verdict.outcome != "unknown" else None, history, at)
            )
            scans.append(
                ScanRow(
                    at,
                    request.serial,
                    request.gtin,
                    request.lot,
                    request.path,
                    facts.batch_id if facts is not None else None,
                    verdict.outcome,
                    ",".join(verdict.rules),
                    verdict.risk,
                    request.channel,
                    self._hash(salt, request.ip),
                    self._hash(self._device_key, request.device),
                    request.user_agent,
                    request.latitude,
                    request.longitude,
                    request.accuracy_m,
                    province,
                    ",".join(verdict.reasons) if request.channel == "html" else None,
                    # Exact: the summary was read for this batch, and no other flight holds this serial.
                    first_scan=history is not None and history.is_first,
                )
            )
        return answers, scans, summaries

    def _province(self, request: ScanRequest) -> str | None:
        if self._province_at is None or request.latitude is None or request.longitude is None:
            return None
        return self._province_at(request.latitude, request.longitude)

    @staticmethod
    def _hash(key: bytes, value: str | None) -> bytes | None:
        if not value:
            return None
        return hmac.new(key, value.encode(), hashlib.sha256).digest()[:HASH_BYTES]

    async def _salt_of(self, connection: asyncpg.Connection, day: date) -> bytes:
        salt = self._salts.get(day)
        if salt is None:
            salt = await repository.salt_of(connection, day)
            # Scans arrive for today (and, around midnight, yesterday): keep a few days' salts.
            self._salts = {
                kept: value for kept, value in self._salts.items() if kept > day - timedelta(days=2)
            }
            self._salts[day] = salt
        return salt
