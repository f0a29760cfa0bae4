"""Every SQL statement on EPCIS events, their EPCs and capture jobs: set-based, one statement for N events.

Events are written by one statement over arrays (``unnest``) on the session's own asyncpg connection,
inside the caller's transaction, an eventID already stored skipped (``ON CONFLICT DO NOTHING``); the EPC
rows of the events it stored follow by binary COPY (an event's EPCs are unique, so nothing can clash).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from services.stamps.epcis.models import CaptureJob, EpcisEvent
from shared.pagination import KeysetPage
from shared.repository import Repository

_INSERT_EVENTS = """
INSERT INTO stamps.epcis_event (
    id, event_id, type, action, event_time, event_time_zone_offset, record_time, biz_step, disposition,
    read_point, biz_location, capture_job_id, entity_id, province_code, origin, doc
)
SELECT e.id, e.event_id, e.type, e.action, e.event_time, e.tz, $7::timestamptz, e.biz_step, e.disposition,
       e.read_point, e.biz_location, $8::uuid, e.entity_id, e.province_code, $9::text, CAST(e.doc AS jsonb)
FROM unnest(
    $1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $10::text[], $11::text[],
    $12::text[], $13::text[], $14::uuid[], $15::text[], $16::text[]
) AS e(id, event_id, type, action, event_time, tz, biz_step, disposition, read_point, biz_location,
       entity_id, province_code, doc)
ON CONFLICT (event_id) DO NOTHING
RETURNING id
"""


@dataclass(frozen=True)
class EventRow:
    """One event to store: its indexed columns, its owner and its JSON (already serialised)."""

    id: uuid.UUID
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


@dataclass(frozen=True)
class EpcRow:
    """One EPC (or quantity class) of an event, canonical, in its role."""

    event_uuid: uuid.UUID
    epc: str
    role: str


class EpcisRepository(Repository[EpcisEvent]):
    """Reads and writes EPCIS events and capture jobs within the caller's transaction."""

    model = EpcisEvent

    async def _driver(self) -> Any:
        """The asyncpg connection under the session (same transaction), for array-bound bulk statements."""
        connection = await self.session.connection()
        raw = await connection.get_raw_connection()
        return raw.driver_connection

    async def insert_events(
        self, events: Sequence[EventRow], epcs: Sequence[EpcRow], *, record_time: datetime,
        capture_job_id: uuid.UUID | None, origin: str,
    ) -> set[uuid.UUID]:  # fmt: skip
        """Store the events whose eventID is new (one statement), then their EPC rows (one COPY); the ids stored."""
        if not events:
            return set()
        driver = await self._driver()
        rows = await driver.fetch(
            _INSERT_EVENTS,
            [e.id for e in events], [e.event_id for e in events], [e.type for e in events],
            [e.action for e in events], [e.event_time for e in events],
            [e.event_time_zone_offset for e in events], record_time, capture_job_id, origin,
            [e.biz_step for e in events], [e.disposition for e in events], [e.read_point for e in events],
            [e.biz_location for e in events], [e.entity_id for e in events], [e.province_code for e in events],
            [e.doc for e in events],
        )  # fmt: skip
        stored = {row["id"] for row in rows}
        records = [(x.event_uuid, x.epc, x.role) for x in epcs if x.event_uuid in stored]
        if records:
            await driver.copy_records_to_table(
                "epcis_event_epc",
                schema_name="stamps",
                records=records,
                columns=["event_uuid", "epc", "role"],
            )
        return stored

    async def stored_event_ids(self, event_ids: Sequence[str]) -> dict[str, uuid.UUID]:
        """Which of these eventIDs are stored already, and under which row id."""
        if not event_ids:
            return {}
        query = select(EpcisEvent.event_id, EpcisEvent.id).where(EpcisEvent.event_id.in_(list(event_ids)))
        return {row.event_id: row.id for row in (await self.session.execute(query)).all()}

    async def event_by_event_id(self, event_id: str) -> EpcisEvent | None:
        """The stored event with this eventID, or None."""
        return (await self.session.scalars(select(EpcisEvent).where(EpcisEvent.event_id == event_id))).first()

    # Capture jobs

    async def add_job(self, job: CaptureJob) -> CaptureJob:
        """Record a new capture job (its id is set by the caller)."""
        self.session.add(job)
        await self.session.flush()
        return job

    async def job(self, job_id: uuid.UUID) -> CaptureJob | None:
        """A capture job by id, or None."""
        return await self.session.get(CaptureJob, job_id)

    async def claim_running_job(self) -> CaptureJob | None:
        """The oldest running job, row-locked (jobs another runner holds are skipped), or None."""
        query = (
            select(CaptureJob)
            .where(CaptureJob.status == "running")
            .order_by(CaptureJob.created_at, CaptureJob.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.scalars(query)).first()

    async def finish_job(
        self,
        job_id: uuid.UUID,
        *,
        success: bool,
        errors: list[dict[str, Any]],
        event_count: int,
        at: datetime,
    ) -> None:
        """Close a job: its outcome, errors and stored-event count; its document is no longer kept."""
        await self.session.execute(
            update(CaptureJob)
            .where(CaptureJob.id == job_id)
            .values(
                status="success" if success else "failure",
                errors=errors,
                event_count=event_count,
                finished_at=at,
                document=None,
            )
        )

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
