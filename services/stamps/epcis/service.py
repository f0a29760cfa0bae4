"""The rules of EPCIS capture: what is valid, who may capture what, how events are stored and found.

Every way in (``POST /epcis/capture``, ``POST /epcis/events``, the events the stamp lifecycle generates)
ends in ``_store``: one statement for the events, their EPC rows written in it. An eventID already
stored is not stored again. An event without an eventID gets ``urn:uuid:`` + a UUID-5 of its content
(keys sorted), so the same event captured twice without an id is still stored once; this is not the
CBV 2.0 event hash (``ni:///sha-256;…?ver=CBV2.0``), whose canonicalisation is not implemented here.

Who may capture (policies.epcis_capture_reach): admins and the ``service`` role anything; a producer
only events whose trade-item EPCs (every EPC or class naming a GTIN, in any role) are GTINs of its own
products in the snapshot, and whose readPoint and bizLocation are its own registered sites (any form of
their URI, or a sub-location /254/ of a site's GLN: ``locations.owned_uris``). Identifiers naming no GTIN
(SSCC, GIAI, platform URIs) cannot be traced to a producer and are accepted. Another producer's (or an
unknown) GTIN or place is a 403 naming it.
"""

from __future__ import annotations

import gc
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.stamps import policies
from services.stamps.config import EpcisSettings
from services.stamps.epcis import identifiers, validation
from services.stamps.epcis.errors import (
    CaptureJobNotFound,
    CaptureLimitExceeded,
    EpcisForbidden,
)
from services.stamps.epcis.models import CaptureJob
from services.stamps.epcis.repository import (
    ClaimedJob,
    EpcisRepository,
    EventRow,
    FinishedJob,
    NewCaptureJob,
)
from services.stamps.epcis.validation import BIZ_STEP, DISPOSITION, Problem
from services.stamps.locations import service as locations
from services.stamps.snapshot import service as snapshot
from shared import clock
from shared.gs1 import InvalidIdentifier
from shared.pagination import KeysetPage, decode_cursor
from shared.security.dependencies import require_authenticated
from shared.security.principal import Principal, Role
from shared.security.scopes import Reach, Visibility

EPC_LISTS = (
    ("epcList", "epc"),
    ("childEPCs", "child"),
    ("inputEPCList", "input"),
    ("outputEPCList", "output"),
)
QUANTITY_LISTS = (
    ("quantityList", "quantity"), ("childQuantityList", "child_quantity"),
    ("inputQuantityList", "input_quantity"), ("outputQuantityList", "output_quantity"),
)  # fmt: skip
# The namespace of content-derived event ids (urn:uuid:…, UUID version 5).
EVENT_ID_NAMESPACE = uuid.UUID("6f1c9a52-3d0e-5b8f-9a61-2c7e4d5b8a10")
ERROR_BEHAVIOURS = ("rollback", "proceed")
# One storing statement holds at most this many events and EPC rows (_statements).
STATEMENT_EVENTS = 10_000
STATEMENT_EPCS = 100_000
# At most this many offending EPCs are named in a 403.
OFFENDING_SHOWN = 100


@dataclass
class Prepared:
    """One event ready to store: its row, its canonical EPCs by role, the GTINs they name."""

    index: int
    row: EventRow
    epcs: list[tuple[str, str]]
    gtins: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class CaptureOutcome:
    """What a synchronous capture did: the event's id, and whether it was new."""

    event_id: str
    stored: bool


def content_event_id(event: dict[str, Any]) -> str:
    """The id of an event captured without one: a UUID-5 of its content (module docstring)."""
    content = {key: value for key, value in event.items() if key not in ("eventID", "recordTime")}
    return f"urn:uuid:{uuid.uuid5(EVENT_ID_NAMESPACE, orjson.dumps(content, option=orjson.OPT_SORT_KEYS).decode())}"


def _canonical(
    value: Any, index: int, problems: list[Problem], *path: str | int,
    read: Callable[[str], str] = identifiers.canonical,
) -> str | None:  # fmt: skip
    """The canonical form of an identifier at ``path`` in event ``index`` (its pointer built only for a problem)."""
    if not isinstance(value, str):
        return None
    try:
        return read(value)
    except InvalidIdentifier as exc:
        pointer = f"/epcisBody/eventList/{index}" + "".join(f"/{part}" for part in path)
        problems.append(Problem(pointer, f"not a valid identifier ({exc.message})", index))
        return None


def _location(event: dict[str, Any], key: str, index: int, problems: list[Problem]) -> str | None:
    place = event.get(key)
    if not isinstance(place, dict):
        return None
    return _canonical(place.get("id"), index, problems, key, "id", read=identifiers.canonical_place)


def _identifiers(
    event: dict[str, Any], index: int, found: list[Problem]
) -> tuple[list[tuple[str, str]], str | None, str | None]:
    """An event's canonical EPCs by role, its read point and business location; their problems to ``found``."""
    epcs: list[tuple[str, str]] = []
    for key, role in EPC_LISTS:
        for i, value in enumerate(event.get(key) or ()):
            if (epc := _canonical(value, index, found, key, i)) is not None:
                epcs.append((epc, role))
    if (parent := _canonical(event.get("parentID"), index, found, "parentID")) is not None:
        epcs.append((parent, "parent"))
    for key, role in QUANTITY_LISTS:
        for i, element in enumerate(event.get(key) or ()):
            value = element.get("epcClass") if isinstance(element, dict) else None
            if (epc := _canonical(value, index, found, key, i, "epcClass")) is not None:
                epcs.append((epc, role))
    return epcs, _location(event, "readPoint", index, found), _location(event, "bizLocation", index, found)


def identifier_problems(events: Sequence[Any]) -> list[Problem]:
    """The identifier problems ``prepare`` would find, without building the rows (a request that only checks)."""
    problems: list[Problem] = []
    for index, event in enumerate(events):
        if isinstance(event, dict):
            _identifiers(event, index, problems)
    return problems


def prepare(
    events: Sequence[Any], *, context: Any = None, skip: frozenset[int] = frozenset()
) -> tuple[list[Prepared], list[Problem]]:
    """Rows for the schema-valid events (indexes in ``skip`` left out), and the identifier problems found.

    ``context`` is the document's ``@context``: kept in an event's stored JSON when it declares more than
    the standard context (an extension prefix), so the event reads the same on its own.
    """
    extra_context = context if context not in (None, validation.CONTEXT, [validation.CONTEXT]) else None
    prepared: list[Prepared] = []
    problems: list[Problem] = []
    for index, event in enumerate(events):
        if index in skip or not isinstance(event, dict):
            continue
        found: list[Problem] = []
        epcs, read_point, biz_location = _identifiers(event, index, found)
        if found:
            problems += found
            continue
        event_id = event.get("eventID") or content_event_id(event)
        doc = event if "eventID" in event else {**event, "eventID": event_id}
        if extra_context is not None and "@context" not in doc:
            doc = {"@context": extra_context, **doc}
        epcs = list(dict.fromkeys(epcs))
        row = EventRow(
            event_id=event_id, type=event["type"], action=event.get("action"),
            event_time=datetime.fromisoformat(event["eventTime"]),
            event_time_zone_offset=event["eventTimeZoneOffset"],
            biz_step=validation.index_value(BIZ_STEP, event.get("bizStep")),
            disposition=validation.index_value(DISPOSITION, event.get("disposition")),
            read_point=read_point, biz_location=biz_location, entity_id=None, province_code=None,
            doc=orjson.dumps(doc).decode(),
        )  # fmt: skip
        gtins = {gtin for epc, _ in epcs if (gtin := identifiers.gtin_of(epc)) is not None}
        prepared.append(Prepared(index, row, epcs, gtins))
    return prepared, problems


@contextmanager
def collector_paused() -> Iterator[None]:
    """CPython's cyclic garbage collector paused over a synchronous pass over a document's events.

    A 10,000-event document is some 100,000 new containers: each 700 allocations start a collection,
    and the older generations' collections walk every object of the process; they took a third of the
    preparing (docs/PERFORMANCE.md). Nothing in such a pass makes cycles, and no await happens inside it,
    so no other request runs with the collector paused; it runs again at the next allocation after.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass
class Ownership:
    """What deciding events' owners needs: the known GTINs' producers, and the capturing producers' places."""

    owners: dict[str, tuple[uuid.UUID, str]]
    provinces: dict[uuid.UUID, str | None] = field(default_factory=dict)
    places: dict[uuid.UUID, set[str]] = field(default_factory=dict)

    @classmethod
    async def of(
        cls, session: AsyncSession, prepared: Sequence[Prepared], entities: Sequence[uuid.UUID]
    ) -> Ownership:
        """The owners of the events' GTINs (one statement), and each capturing producer's province and sites."""
        found = cls(
            await snapshot.owners_of_gtins(session, gtins=sorted({g for p in prepared for g in p.gtins}))
        )
        for entity in dict.fromkeys(entities):
            found.provinces[entity] = await snapshot.province_of_entity(session, entity_id=entity)
            registered = await locations.owned_uris(session, entity_id=entity)
            found.places[entity] = {identifiers.canonical(uri) for uri in registered}
        return found


def _own_entity(reach: Visibility) -> uuid.UUID | None:
    return uuid.UUID(str(reach.value)) if reach.reach is Reach.entity else None


async def _assign_owners(
    session: AsyncSession, prepared: list[Prepared], reach: Visibility
) -> dict[int, list[str]]:
    """Set each event's owner (producer and province); the offending EPCs of events the caller may not capture."""
    own_entity = _own_entity(reach)
    ownership = await Ownership.of(session, prepared, [own_entity] if own_entity is not None else [])
    return _owned(prepared, own_entity, ownership)


def _owned(
    prepared: list[Prepared], own_entity: uuid.UUID | None, ownership: Ownership
) -> dict[int, list[str]]:
    """Set each event's owner (producer and province); the offending EPCs of events the caller may not capture.

    A producer's events are its own; an admin's or a service's belong to the producer of their GTINs
    when all name one producer (otherwise to nobody: the national and admin views still read them).
    """
    owners = ownership.owners
    offending: dict[int, list[str]] = {}
    for item in prepared:
        named = {owners[g] for g in item.gtins if g in owners}
        if own_entity is not None:
            own_places = ownership.places[own_entity]
            bad = [
                identifiers.digital_link(epc)
                for epc, _ in item.epcs
                if (gtin := identifiers.gtin_of(epc)) is not None
                and (gtin not in owners or owners[gtin][0] != own_entity)
            ]
            bad += [
                identifiers.digital_link(place)
                for place in dict.fromkeys((item.row.read_point, item.row.biz_location))
                if place is not None and not identifiers.within(place, own_places)
            ]
            if bad:
                offending[item.index] = bad
            entity: uuid.UUID | None = own_entity
            province = next(iter(sorted(p for _, p in named)), ownership.provinces[own_entity])
        elif len({e for e, _ in named}) == 1:
            entity, province = next(iter(named))
        else:
            entity, province = None, None
        item.row = _with_owner(item.row, entity, province)
    return offending


def _with_owner(row: EventRow, entity: uuid.UUID | None, province: str | None) -> EventRow:
    row.entity_id, row.province_code = entity, province
    return row


def _reach(principal: Principal) -> Visibility:
    """What the caller may capture about; anonymous 401, a role that may capture nothing 403."""
    require_authenticated(principal)
    reach = policies.epcis_capture_reach(principal)
    if reach.reach is Reach.nothing:
        raise EpcisForbidden(f"The {principal.role.value} role may not capture EPCIS events.")
    return reach


def _check_size(body: bytes, limits: EpcisSettings) -> None:
    if len(body) > limits.max_document_bytes:
        raise CaptureLimitExceeded(
            f"The document is {len(body)} bytes; this repository accepts at most {limits.max_document_bytes}.",
            headers=capture_limit_headers(limits), max_bytes=limits.max_document_bytes,
        )  # fmt: skip


def capture_limit_headers(limits: EpcisSettings) -> dict[str, str]:
    """The EPCIS discovery headers announcing the capture limits."""
    return {
        "GS1-EPCIS-Capture-Limit": str(limits.max_events),
        "GS1-EPCIS-Capture-File-Size-Limit": str(limits.max_document_bytes),
    }


def _forbid(offending: dict[int, list[str]]) -> None:
    if offending:
        epcs = [epc for index in sorted(offending) for epc in offending[index]]
        raise EpcisForbidden(
            f"Events about EPCs or places that are not the caller's: {epcs[0]}"
            + (f" and {len(epcs) - 1} more" if len(epcs) > 1 else ""),
            offending=epcs[:OFFENDING_SHOWN], offending_count=len(epcs),
        )  # fmt: skip


async def _store(
    session: AsyncSession, prepared: list[Prepared], *, origin: str, record_time: datetime
) -> set[uuid.UUID]:
    """Store the events whose eventID is new (the first of the same id), with their EPC rows; the row ids stored."""
    unique: dict[str, Prepared] = {}
    for item in prepared:
        unique.setdefault(item.row.event_id, item)
    repository = EpcisRepository(session)
    stored: set[uuid.UUID] = set()
    for part in _statements(list(unique.values())):
        ids = await repository.insert_events(
            [item.row for item in part], [item.epcs for item in part], record_time=record_time, origin=origin
        )
        for item in part:
            item.row.id = ids.get(item.row.event_id)
        stored.update(ids.values())
    return stored


def _statements(prepared: list[Prepared]) -> list[list[Prepared]]:
    """The events cut into statements of at most STATEMENT_EVENTS events and STATEMENT_EPCS EPC rows.

    One statement per slice keeps each within the service's statement timeout (a 1,000,000-stamp
    activation is 100 events of 10,000 EPCs: 10 statements, not one of a million rows).
    """
    parts: list[list[Prepared]] = [[]]
    epcs = 0
    for item in prepared:
        if parts[-1] and (len(parts[-1]) >= STATEMENT_EVENTS or epcs + len(item.epcs) > STATEMENT_EPCS):
            parts.append([])
            epcs = 0
        parts[-1].append(item)
        epcs += len(item.epcs)
    return parts


def _checked(document: Any, limits: EpcisSettings, now: datetime) -> tuple[list[Any], list[Problem]]:
    """The document's events and their problems; envelope problems and too many events refused at once."""
    events, problems = validation.check_document(
        document, now=now, tolerance=timedelta(seconds=limits.future_tolerance_s)
    )
    validation.raise_problems([p for p in problems if p.event is None], "document")
    if len(events) > limits.max_events:
        raise CaptureLimitExceeded(
            f"The document holds {len(events)} events; this repository accepts at most {limits.max_events}.",
            headers=capture_limit_headers(limits), max_events=limits.max_events,
        )  # fmt: skip
    return events, problems


async def capture_event(
    session: AsyncSession, *, principal: Principal, body: bytes, limits: EpcisSettings
) -> CaptureOutcome:
    """Capture one event synchronously (``POST /epcis/events``): all checks, then stored (once per eventID)."""
    reach = _reach(principal)
    _check_size(body, limits)
    now = clock.now()
    event = validation.parse(body)
    document = validation.single_event_document(event, created=now)
    events, problems = _checked(document, limits, now)
    validation.raise_problems(problems, "event")
    prepared, problems = prepare(events, context=document["@context"])
    validation.raise_problems(problems, "event")
    _forbid(await _assign_owners(session, prepared, reach))
    stored = await _store(session, prepared, origin="capture", record_time=now)
    return CaptureOutcome(prepared[0].row.event_id, bool(stored))


async def capture_document(
    session: AsyncSession, *, principal: Principal, body: bytes, error_behaviour: str, limits: EpcisSettings
) -> NewCaptureJob:
    """Accept an EPCISDocument as a capture job (``POST /epcis/capture``) after the cheap checks.

    Size, JSON, GS1's schema, vocabulary, times, identifiers and (for a producer) ownership are checked
    here: with ``rollback`` any problem refuses the document (400, 403) and nothing is written; with
    ``proceed`` only envelope problems do, and the job stores the events without problems.
    """
    reach = _reach(principal)
    _check_size(body, limits)
    if error_behaviour not in ERROR_BEHAVIOURS:
        validation.raise_problems(
            [Problem("GS1-Capture-Error-Behaviour", f"expected one of {', '.join(ERROR_BEHAVIOURS)}")],
            "request",
        )
    now = clock.now()
    with collector_paused():
        document = validation.parse(body)
        events, problems = _checked(document, limits, now)
        if error_behaviour == "rollback":
            validation.raise_problems(problems, "document")
            validation.raise_problems(identifier_problems(events), "document")
    # Only a producer can be refused what it names (admins and services: never); the rows built for it
    # are not kept (the runner builds them from the job's document).
    if error_behaviour == "rollback" and reach.reach is Reach.entity:
        with collector_paused():
            prepared, _ = prepare(events, context=document.get("@context"))
        _forbid(await _assign_owners(session, prepared, reach))
    job = NewCaptureJob(
        id=uuid.uuid4(), error_behaviour=error_behaviour, captured_by=principal.sub,
        captured_role=principal.role.value, captured_scope=principal.scope, size_bytes=len(body), created_at=now,
    )  # fmt: skip
    # The document as checked (CBV values in their short form), serialised by orjson, parsed by PostgreSQL.
    await EpcisRepository(session).add_job(job, document=orjson.dumps(document).decode())
    return job


@dataclass
class _Outcome:
    """A claimed job as a pass processes it: its events ready to store, its problems, what it stored."""

    job: ClaimedJob
    prepared: list[Prepared]
    problems: list[Problem]
    offending: dict[int, list[str]] = field(default_factory=dict)


def _job_events(job: ClaimedJob, limits: EpcisSettings) -> tuple[list[Prepared], list[Problem]]:
    """A job's events ready to store, and its problems (those the request already refused are not checked twice)."""
    document = orjson.loads(job.document) if job.document else {}
    if job.error_behaviour == "rollback":
        # The request refused any problem of the document (schema, vocabulary, times): not checked twice.
        events: list[Any] = document.get("epcisBody", {}).get("eventList", [])
        problems: list[Problem] = []
    else:
        events, problems = validation.check_document(
            document, now=job.created_at, tolerance=timedelta(seconds=limits.future_tolerance_s)
        )
    prepared, found = prepare(
        events,
        context=document.get("@context"),
        skip=frozenset(p.event for p in problems if p.event is not None),
    )
    return prepared, problems + found


async def run_capture_jobs(
    session: AsyncSession, *, jobs: Sequence[ClaimedJob], limits: EpcisSettings
) -> int:
    """Store claimed jobs' events in the caller's transaction; each job all or nothing, or its valid events
    with ``proceed``; how many jobs were closed.

    One statement per table for the whole pass: the GTINs' owners, the events (an eventID already stored,
    or named by an earlier job of the pass, is stored once: by the first), their EPC rows, the jobs closed.
    """
    now = clock.now()
    outcomes: list[_Outcome] = []
    entities: list[uuid.UUID] = []
    reaches: list[Visibility] = []
    for job in jobs:
        reach = policies.epcis_capture_reach(
            Principal(sub=job.captured_by, role=Role(job.captured_role), scope=job.captured_scope)
        )
        reaches.append(reach)
        if (entity := _own_entity(reach)) is not None:
            entities.append(entity)
        with collector_paused():
            outcomes.append(_Outcome(job, *_job_events(job, limits)))
    ownership = await Ownership.of(session, [item for o in outcomes for item in o.prepared], entities)
    for outcome, reach in zip(outcomes, reaches, strict=True):
        outcome.offending = (
            _owned(outcome.prepared, _own_entity(reach), ownership)
            if reach.reach is not Reach.nothing
            else {item.index: ["(the capturing role may no longer capture)"] for item in outcome.prepared}
        )
        outcome.problems += [
            Problem(f"/epcisBody/eventList/{index}", f"not the caller's EPC: {epc}", index)
            for index, epcs in outcome.offending.items()
            for epc in epcs[:OFFENDING_SHOWN]
        ]
    storing: list[Prepared] = []
    for outcome in outcomes:
        if not (outcome.problems and outcome.job.error_behaviour == "rollback"):
            for item in outcome.prepared:
                if item.index not in outcome.offending:
                    item.row.capture_job_id = outcome.job.id
                    storing.append(item)
    stored = await _store(session, storing, origin="capture", record_time=now)
    counts: dict[uuid.UUID, int] = {}
    for item in storing:
        if item.row.id in stored and item.row.capture_job_id is not None:
            counts[item.row.capture_job_id] = counts.get(item.row.capture_job_id, 0) + 1
    await EpcisRepository(session).finish_jobs(
        [
            FinishedJob(
                o.job.id,
                success=not o.problems,
                event_count=counts.get(o.job.id, 0),
                errors=[problem.as_error() for problem in o.problems[: validation.PROBLEMS_SHOWN]],
            )
            for o in outcomes
        ],
        at=now,
    )
    return len(outcomes)


async def fail_capture_job(session: AsyncSession, *, job_id: uuid.UUID, message: str) -> None:
    """Close a job the runner could not process (nothing of it stored)."""
    await EpcisRepository(session).finish_jobs(
        [FinishedJob(job_id, success=False, errors=[{"field": "", "message": message, "type": "capture_failed"}],
                     event_count=0)],
        at=clock.now(),
    )  # fmt: skip


async def claim_capture_jobs(session: AsyncSession, *, max_jobs: int, max_bytes: int) -> list[ClaimedJob]:
    """The oldest running capture jobs (at most ``max_jobs``, within ``max_bytes`` of documents), locked for
    this transaction; those another runner holds are skipped."""
    return await EpcisRepository(session).claim_running_jobs(max_jobs=max_jobs, max_bytes=max_bytes)


async def claim_capture_job(session: AsyncSession, *, job_id: uuid.UUID) -> ClaimedJob | None:
    """This capture job if it is still running and no other runner holds it, locked for this transaction."""
    return await EpcisRepository(session).claim_running_job(job_id)


def _started(principal: Principal, job: CaptureJob) -> bool:
    """Whether ``principal`` started the job (the same subject in the same role and scope), or is an admin."""
    return principal.role is Role.admin or (
        (job.captured_by, job.captured_role, job.captured_scope)
        == (principal.sub, principal.role.value, principal.scope)
    )


async def get_capture_job(session: AsyncSession, *, principal: Principal, job_id: uuid.UUID) -> CaptureJob:
    """A capture job the caller started (admins: any); otherwise CaptureJobNotFound (never a hint)."""
    require_authenticated(principal)
    job = await EpcisRepository(session).job(job_id)
    if job is None or not _started(principal, job):
        raise CaptureJobNotFound(f"No capture job {job_id}")
    return job


async def list_capture_jobs(
    session: AsyncSession, *, principal: Principal, limit: int, cursor: str | None
) -> KeysetPage[CaptureJob]:
    """The capture jobs the caller started (admins: all), newest first."""
    require_authenticated(principal)
    return await EpcisRepository(session).list_jobs(
        captured_by=None if principal.role is Role.admin else (principal.sub, principal.role.value, principal.scope),
        after=decode_cursor(cursor, datetime, uuid.UUID), limit=limit,
    )  # fmt: skip


async def record_events(
    session: AsyncSession, *, events: list[dict[str, Any]], entity_id: uuid.UUID | None,
    province_code: str | None, origin: str = "stamps",
) -> list[str]:  # fmt: skip
    """Store events the platform generated (the stamp lifecycle's), owned by ``entity_id``; their eventIDs.

    Trusted: no access check and no schema check at run time (tests validate every kind generated);
    identifiers are canonicalised as for captured events, and an eventID already stored is skipped.
    """
    prepared, problems = prepare(events)
    if problems:
        raise ValueError(f"generated event invalid: {problems[0].pointer}: {problems[0].message}")
    for item in prepared:
        item.row = _with_owner(item.row, entity_id, province_code)
    await _store(session, prepared, origin=origin, record_time=clock.now())
    return [item.row.event_id for item in prepared]
