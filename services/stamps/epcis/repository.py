"""Every SQL statement on EPCIS events, their EPCs and capture jobs: set-based, one statement for N events.

Events are written by one statement over arrays (``unnest``) on the session's own asyncpg connection,
inside the caller's transaction, an eventID already stored skipped (``ON CONFLICT DO NOTHING``), each row's id
drawn by PostgreSQL (``gen_random_uuid()``: a UUID object an event cost Python more than its row); the EPC
rows of the events it stored follow by binary COPY (an event's EPCs are unique, so nothing can clash).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select

from services.stamps.epcis.models import CaptureJob, EpcisEvent
from shared.pagination import KeysetPage
from shared.repository import Repository

_INSERT_EVENTS = """
INSERT INTO stamps.epcis_event (
    id, event_id, type, action, event_time, event_time_zone_offset, record_time, biz_step, disposition,
    read_point, biz_location, capture_job_id, entity_id, province_code, origin, doc
)
SELECT gen_random_uuid(), e.event_id, e.type, e.action, e.event_time, e.tz, $6::timestamptz, e.biz_step,
       e.disposition, e.read_point, e.biz_location, e.capture_job_id, e.entity_id, e.province_code, $8::text,
       CAST(e.doc AS jsonb)
FROM unnest(
    $1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $9::text[], $10::text[],
    $11::text[], $12::text[], $7::uuid[], $13::uuid[], $14::text[], $15::text[]
) AS e(event_id, type, action, event_time, tz, biz_step, disposition, read_point, biz_location,
       capture_job_id, entity_id, province_code, doc)
ON CONFLICT (event_id) DO NOTHING
RETURNING id, event_id
"""
# The running jobs of a pass, oldest first: the first $1 no other runner holds (locked here), and of
# those no more documents than fit in $2 bytes (always the first; the rest stay locked until the pass ends).
_CLAIMED = """
SELECT id, error_behaviour, captured_by, captured_role, captured_scope, created_at, CAST(document AS text) AS document
FROM stamps.epcis_capture_job
WHERE status = 'running' AND """
_CLAIM_JOB = _CLAIMED + "id = $1 FOR UPDATE SKIP LOCKED"
_CLAIM_JOBS = (
    _CLAIMED
    + """id IN (
    SELECT id FROM (
        SELECT id, size_bytes, sum(size_bytes) OVER (ORDER BY created_at, id) AS upto
        FROM (
            SELECT id, created_at, size_bytes
            FROM stamps.epcis_capture_job
            WHERE status = 'running'
            ORDER BY created_at, id
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        ) AS free
    ) AS oldest
    WHERE upto - size_bytes < $2
)
ORDER BY created_at, id
"""
)
_INSERT_JOB = """
INSERT INTO stamps.epcis_capture_job (
    id, status, error_behaviour, captured_by, captured_role, captured_scope, event_count, size_bytes, document,
    errors, created_at
)
VALUES ($1, 'running', $2, $3, $4, $5, 0, $6, CAST($7::text AS jsonb), '[]'::jsonb, $8)
"""
_FINISH_JOBS = """
UPDATE stamps.epcis_capture_job AS job
SET status = done.status, errors = CAST(done.errors AS jsonb), event_count = done.event_count,
    finished_at = $5::timestamptz, document = NULL
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[]) AS done(id, status, errors, event_count)
WHERE job.id = done.id
"""


@dataclass(slots=True)
class EventRow:
    """One event to store: its indexed columns, its owner and its JSON (already serialised).

    Not frozen: the owner and the capture job are set on the row where they are decided (a frozen row
    was copied whole for each, three constructions an event), and its id once stored (PostgreSQL draws it).
    """

    event_id: str
    type: str
    action: str | None
    event_time: datetime
    event_time_zone_offset: str
    biz_step: str | None
    disposition: str | None
    read_point: str | None
    biz_location: str | None
    entity_id: uuid.UUID | None
    province_code: str | None
    doc: str
    capture_job_id: uuid.UUID | None = None
    id: uuid.UUID | None = None


@dataclass(frozen=True)
class NewCaptureJob:
    """A capture job as recorded: running, nothing stored yet (the columns a capture job reads as)."""

    id: uuid.UUID
    error_behaviour: str
    captured_by: str
    captured_role: str
    captured_scope: str | None
    size_bytes: int
    created_at: datetime
    status: str = "running"
    event_count: int = 0
    finished_at: datetime | None = None
    errors: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class ClaimedJob:
    """A running capture job claimed by a runner pass: who captured, how, and the document (JSON text)."""

    id: uuid.UUID
    error_behaviour: str
    captured_by: str
    captured_role: str
    captured_scope: str | None
    created_at: datetime
    document: str | None


@dataclass(frozen=True)
class FinishedJob:
    """A capture job's outcome: success or failure, its errors, how many events it stored."""

    id: uuid.UUID
    success: bool
    errors: list[dict[str, Any]]
    event_count: int


class EpcisRepository(Repository[EpcisEvent]):
    """Reads and writes EPCIS events and capture jobs within the caller's transaction."""

    model = EpcisEvent

    async def _driver(self) -> Any:
        """The asyncpg connection under the session (same transaction), for array-bound bulk statements."""
        connection = await self.session.connection()
        raw = await connection.get_raw_connection()
        return raw.driver_connection

    async def insert_events(
        self, events: Sequence[EventRow], epcs: Sequence[Sequence[tuple[str, str]]], *, record_time: datetime,
        origin: str,
    ) -> dict[str, uuid.UUID]:  # fmt: skip
        """Store the events whose eventID is new (one statement), then the EPC rows (canonical EPC, role) of
        those stored (one COPY; ``epcs[i]`` are ``events[i]``'s); the new rows' ids by eventID."""
        if not events:
            return {}
        driver = await self._driver()
        # The statement's arrays, built in one pass over the events (a column each).
        (event_ids, types, actions, times, offsets, jobs, steps, dispositions, read_points, biz_locations,
         entities, provinces, docs) = map(list, zip(*(
            (e.event_id, e.type, e.action, e.event_time, e.event_time_zone_offset, e.capture_job_id,
             e.biz_step, e.disposition, e.read_point, e.biz_location, e.entity_id, e.province_code, e.doc)
            for e in events
        ), strict=True))  # fmt: skip
        rows = await driver.fetch(
            _INSERT_EVENTS, event_ids, types, actions, times, offsets, record_time, jobs, origin, steps,
            dispositions, read_points, biz_locations, entities, provinces, docs,
        )  # fmt: skip
        stored: dict[str, uuid.UUID] = {row["event_id"]: row["id"] for row in rows}
        records = [
            (row_id, epc, role)
            for event, its in zip(events, epcs, strict=True)
            if (row_id := stored.get(event.event_id)) is not None
            for epc, role in its
        ]
        if records:
            await driver.copy_records_to_table(
                "epcis_event_epc",
                schema_name="stamps",
                records=records,
                columns=["event_uuid", "epc", "role"],
            )
        return stored

    async def event_by_event_id(self, event_id: str) -> EpcisEvent | None:
        """The stored event with this eventID, or None."""
        return (await self.session.scalars(select(EpcisEvent).where(EpcisEvent.event_id == event_id))).first()

    # Capture jobs

    async def add_job(self, job: NewCaptureJob, *, document: str) -> None:
        """Record a new running capture job (one INSERT) with ``document``, the JSON text it stores."""
        await (await self._driver()).execute(
            _INSERT_JOB, job.id, job.error_behaviour, job.captured_by, job.captured_role, job.captured_scope,
            job.size_bytes, document, job.created_at,
        )  # fmt: skip

    async def job(self, job_id: uuid.UUID) -> CaptureJob | None:
        """A capture job by id, or None."""
        return await self.session.get(CaptureJob, job_id)

    async def claim_running_jobs(self, *, max_jobs: int, max_bytes: int) -> list[ClaimedJob]:
        """The oldest running jobs, row-locked (those another runner holds skipped): at most ``max_jobs``, and
        no more than fit in ``max_bytes`` of documents (the oldest always)."""
        rows = await (await self._driver()).fetch(_CLAIM_JOBS, max_jobs, max_bytes)
        return [ClaimedJob(**dict(row)) for row in rows]

    async def claim_running_job(self, job_id: uuid.UUID) -> ClaimedJob | None:
        """This job, row-locked, if it is running and no other runner holds it; otherwise None."""
        row = await (await self._driver()).fetchrow(_CLAIM_JOB, job_id)
        return None if row is None else ClaimedJob(**dict(row))

    async def finish_jobs(self, jobs: Sequence[FinishedJob], *, at: datetime) -> None:
        """Close jobs (one statement): outcome, errors and stored-event count; their documents are not kept."""
        if jobs:
            await (await self._driver()).execute(
                _FINISH_JOBS, [job.id for job in jobs], ["success" if job.success else "failure" for job in jobs],
                [orjson.dumps(job.errors).decode() for job in jobs], [job.event_count for job in jobs], at,
            )  # fmt: skip

    async def list_jobs(
        self, *, captured_by: tuple[str, str, str | None] | None, after: tuple[Any, ...] | None, limit: int
    ) -> KeysetPage[CaptureJob]:
        """Capture jobs, newest first: those started by ``captured_by`` (subject, role, scope; None: all)."""
        query = select(CaptureJob)
        if captured_by is not None:
            sub, role, scope = captured_by
            query = query.where(
                CaptureJob.captured_by == sub, CaptureJob.captured_role == role,
                CaptureJob.captured_scope.is_(None) if scope is None else CaptureJob.captured_scope == scope,
            )  # fmt: skip
        return await self.paginate(
            query, keys=(CaptureJob.created_at, CaptureJob.id), after=after, limit=limit, descending=True
        )
