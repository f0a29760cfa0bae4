"""The rules of EPCIS reads: the query language's parameters, who reads which events, the export, the trace view."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from services.stamps import policies
from services.stamps.epcis import identifiers, validation
from services.stamps.locations import service as locations
from services.stamps.snapshot import service as snapshot
from services.stamps.traceability.errors import (
    EventNotFound,
    InvalidTraceField,
    ProductNotFound,
    QueryParameterProblem,
    StampNotFound,
)
from services.stamps.traceability.repository import TraceabilityRepository
from services.stamps.traceability.schemas import EventPage, EventQuery, Trace, TracePlace, TraceStep
from shared import clock, gs1
from shared.db import Database
from shared.errors import ProblemError
from shared.pagination import decode_cursor, encode_cursor
from shared.security.dependencies import require_authenticated
from shared.security.principal import Principal
from shared.security.scopes import EVERYTHING, Place

logger = logging.getLogger(__name__)

CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
SCHEMA_VERSION = "2.0"
QUERY_NAME = "SimpleEventQuery"
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 1_000
# The steps a trace view shows at most (a stamp's journey has a handful; a lot's, a few dozen).
MAX_TRACE_STEPS = 200
EVENT_TYPES = (
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
)
ACTIONS = ("ADD", "OBSERVE", "DELETE")
# Parameters that take one value, and those that take a |-separated list.
_TIMES = {"GE_eventTime": "ge_event_time", "LT_eventTime": "lt_event_time", "GE_recordTime": "ge_record_time"}
_VOCABULARIES = {
    "EQ_bizStep": ("biz_steps", validation.BIZ_STEP),
    "EQ_disposition": ("dispositions", validation.DISPOSITION),
}
_LOCATIONS = {"EQ_readPoint": "read_points", "EQ_bizLocation": "biz_locations"}
_IDENTIFIERS = {
    "MATCH_epc": "match_epc",
    "MATCH_anyEPC": "match_any_epc",
    "MATCH_epcClass": "match_epc_class",
}
QUERY_PARAMETERS = frozenset(
    {
        "eventType",
        "EQ_action",
        "perPage",
        "nextPageToken",
        *_TIMES,
        *_VOCABULARIES,
        *_LOCATIONS,
        *_IDENTIFIERS,
    }
)
EXPORT_PARAMETERS = frozenset({"product_id", "province_code", "GE_eventTime", "LT_eventTime"})
# Hand the event loop back this often while the export is written.
SLICE_S = 0.005


def _values(name: str, value: str) -> list[str]:
    values = list(value.split("|"))
    if not value or any(not part.strip() for part in values):
        raise QueryParameterProblem(name, "an empty value (values are separated by |)")
    return values


def _time(name: str, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(
            value.replace(" ", "+")
        )  # a + left unencoded in a URL arrives as a space
    except ValueError:
        raise QueryParameterProblem(name, f"not an ISO 8601 date-time: {value!r}") from None
    if moment.tzinfo is None:
        raise QueryParameterProblem(name, "a date-time with its offset (Z or +07:00)")
    return moment


def _single(params: Sequence[tuple[str, str]], known: frozenset[str]) -> dict[str, str]:
    given: dict[str, str] = {}
    for name, value in params:
        if name not in known:
            raise QueryParameterProblem(name, "not a query parameter this repository supports")
        if name in given:
            raise QueryParameterProblem(name, "given twice (separate values with |)")
        given[name] = value
    return given


def _identifiers(name: str, value: str) -> tuple[str, ...]:
    """Each value in the canonical form the epcis package stores (any Digital Link host, or an EPC URN)."""
    forms: list[str] = []
    for one in _values(name, value):
        if ":" not in one:
            raise QueryParameterProblem(name, f"not an identifier URI: {one!r}")
        try:
            forms.append(identifiers.canonical(one))
        except gs1.InvalidIdentifier as error:
            raise QueryParameterProblem(name, f"{one!r}: {error.message}") from None
    return tuple(dict.fromkeys(forms))


def _words(name: str, value: str, vocabulary: validation.Vocabulary) -> tuple[str, ...]:
    """Each CBV value as the indexed column holds it: the bare word (from any of its three spellings)."""
    words: list[str] = []
    for one in _values(name, value):
        try:
            words.append(validation.cbv_word(vocabulary, one) or one)
        except ValueError:
            raise QueryParameterProblem(name, f"not a CBV 2.0 {vocabulary.definition}: {one!r}") from None
    return tuple(words)


def parse_query(params: Sequence[tuple[str, str]]) -> EventQuery:
    """The filters of a GET /events query string; QueryParameterProblem for an unknown name or a bad value."""
    given = _single(params, QUERY_PARAMETERS)
    fields: dict[str, Any] = {"given": given}
    for name, value in given.items():
        if name == "eventType":
            types = _values(name, value)
            if unknown := [t for t in types if t not in EVENT_TYPES]:
                raise QueryParameterProblem(name, f"not an event type: {unknown[0]!r}")
            fields["event_types"] = tuple(types)
        elif name == "EQ_action":
            actions = _values(name, value)
            if unknown := [a for a in actions if a not in ACTIONS]:
                raise QueryParameterProblem(name, f"ADD, OBSERVE or DELETE, not {unknown[0]!r}")
            fields["actions"] = tuple(actions)
        elif name in _TIMES:
            fields[_TIMES[name]] = _time(name, value)
        elif name in _VOCABULARIES:
            field, vocabulary = _VOCABULARIES[name]
            fields[field] = _words(name, value, vocabulary)
        elif name in _LOCATIONS:
            fields[_LOCATIONS[name]] = _identifiers(name, value)
        elif name in _IDENTIFIERS:
            fields[_IDENTIFIERS[name]] = _identifiers(name, value)
        elif name == "perPage":
            if not value.isdigit() or not 1 <= int(value) <= MAX_PER_PAGE:
                raise QueryParameterProblem(name, f"a whole number from 1 to {MAX_PER_PAGE}")
            fields["per_page"] = int(value)
        elif name == "nextPageToken":
            try:
                fields["after"] = decode_cursor(value, datetime, uuid.UUID)
            except ProblemError:
                raise QueryParameterProblem(name, "not a token this repository gave") from None
    return EventQuery(**fields)


async def query_events(
    session: AsyncSession, *, principal: Principal, params: Sequence[tuple[str, str]]
) -> EventPage:
    """A page of the events the caller may read that match the query (each as stored), and the next token."""
    require_authenticated(principal)
    query = parse_query(params)
    rows = await TraceabilityRepository(session).page(policies.epcis_visibility(principal), query)
    token = None
    if len(rows) > query.per_page:
        rows = rows[: query.per_page]
        token = encode_cursor(rows[-1].event_time, rows[-1].id)
    return EventPage([row.doc for row in rows], token)


def query_document(events: Iterable[str]) -> bytes:
    """An EPCISQueryDocument around events' JSON texts (joined, never parsed again)."""
    head = orjson.dumps(
        {
            "@context": CONTEXT,
            "type": "EPCISQueryDocument",
            "schemaVersion": SCHEMA_VERSION,
            "creationDate": clock.now().isoformat(timespec="milliseconds"),
        }
    )[:-1]
    body = (
        b',"epcisBody":{"queryResults":{"queryName":"%s","resultsBody":{"eventList":[' % QUERY_NAME.encode()
    )
    return head + body + ",".join(events).encode() + b"]}}}}"


async def get_event(session: AsyncSession, *, principal: Principal, event_id: str) -> str:
    """One event's JSON text (with its @context), if the caller may read it; EventNotFound otherwise."""
    require_authenticated(principal)
    event = await TraceabilityRepository(session).event(policies.epcis_visibility(principal), event_id)
    if event is None:
        raise EventNotFound(f"No event {event_id}")
    return event


async def export_events(
    session: AsyncSession, *, principal: Principal, params: Sequence[tuple[str, str]], database: Database
) -> AsyncIterator[bytes]:
    """A product's or a province's events for a period, as one EPCISDocument streamed in chunks.

    Access and parameters are checked now, in the request's transaction; the events are read as the
    document is pulled, through a server-side cursor of a session of its own.
    """
    require_authenticated(principal)
    given = _single(params, EXPORT_PARAMETERS)
    if ("product_id" in given) == ("province_code" in given):
        raise QueryParameterProblem("product_id", "give exactly one of product_id and province_code")
    times: dict[str, Any] = {
        _TIMES[name]: _time(name, value) for name, value in given.items() if name in _TIMES
    }
    visible = policies.epcis_visibility(principal)
    scope: dict[str, Any] = {}
    if "product_id" in given:
        try:
            product_id = uuid.UUID(given["product_id"])
        except ValueError:
            raise QueryParameterProblem("product_id", "not a uuid") from None
        product = await snapshot.certification_of(session, product_id, clock.today())
        if product is None or not visible.admits(
            Place(entity_id=product.entity_id, province_code=product.province_code)
        ):
            raise ProductNotFound(f"No product {product_id}")
        # Without a GTIN a product has no EPC events; "-" matches no canonical identifier.
        scope["gtin"] = gs1.gtin14(product.gtin) if product.gtin else "-"
    else:
        code = given["province_code"]
        if len(code) != 2 or not code.isdigit():
            raise QueryParameterProblem("province_code", "a province code is 2 digits")
        scope["province_code"] = code
    query = EventQuery(**times, **scope)
    return _document_chunks(database, visible, query)


async def _document_chunks(database: Database, visible: Any, query: EventQuery) -> AsyncIterator[bytes]:
    head = orjson.dumps(
        {
            "@context": CONTEXT,
            "type": "EPCISDocument",
            "schemaVersion": SCHEMA_VERSION,
            "creationDate": clock.now().isoformat(timespec="milliseconds"),
        }
    )[:-1]
    yield head + b',"epcisBody":{"eventList":['
    first = True
    handed_at = time.monotonic()
    async with (
        database.sessionmaker() as own,
        own.begin(),
        aclosing(TraceabilityRepository(own).stream(visible, query)) as fetches,
    ):
        async for fetch in fetches:
            if not fetch:
                continue
            yield (b"" if first else b",") + ",".join(fetch).encode()
            first = False
            if time.monotonic() - handed_at > SLICE_S:
                await asyncio.sleep(0)
                handed_at = time.monotonic()
    yield b"]}}"


# The trace view

_SAID = {
    "commissioning": ("Sản xuất", "Produced"),
    "packing": ("Đóng gói", "Packed"),
    "shipping": ("Xuất hàng", "Shipped"),
    "departing": ("Rời đi", "Departed"),
    "arriving": ("Đến nơi", "Arrived"),
    "receiving": ("Được nhận", "Received"),
    "unpacking": ("Mở thùng", "Unpacked"),
    "storing": ("Lưu kho", "Stored"),
    "stocking": ("Đưa lên kệ", "Stocked"),
    "retail_selling": ("Đã bán", "Sold"),
    "inspecting": ("Kiểm tra", "Inspected"),
    "holding": ("Tạm giữ", "Held"),
    "decommissioning": ("Tem bị hủy", "Stamp decommissioned"),
    "destroying": ("Tiêu hủy", "Destroyed"),
    "transporting": ("Vận chuyển", "Transported"),
    "loading": ("Xếp hàng lên xe", "Loaded"),
    "unloading": ("Dỡ hàng", "Unloaded"),
}
_AT = {"shipping": ("từ", "from"), "departing": ("từ", "from")}


def summary(biz_step: str | None, place: TracePlace | None) -> tuple[str, str]:
    """What a step says to people, in Vietnamese and English: "Đóng gói tại …" / "Packed at …"."""
    vi, en = _SAID.get(biz_step or "", (biz_step or "Sự kiện", biz_step or "Event"))
    if place is None or place.name is None:
        return vi, en
    at_vi, at_en = _AT.get(biz_step or "", ("tại", "at"))
    where = ", ".join(part for part in (place.name, place.commune, place.province) if part)
    return f"{vi} {at_vi} {where}", f"{en} {at_en} {where}"


async def describe_places(session: AsyncSession, uris: Collection[str]) -> dict[str, TracePlace]:
    """The places of these location URIs as their producers registered them (one statement; none without URIs).

    A URI no site is registered under keeps only itself: the view shows the raw URI.
    """
    known = await locations.describe(session, uris=uris) if uris else {}
    places = {}
    for uri in uris:
        place = known.get(uri)
        places[uri] = (
            TracePlace(uri=uri, name=None, commune=None, commune_code=None, province=None)
            if place is None
            else TracePlace(
                uri=uri,
                name=place.name,
                commune=place.commune_name,
                commune_code=place.commune_code,
                province=place.province_name,
            )
        )
    return places


async def _steps(session: AsyncSession, rows: Sequence[Any]) -> list[TraceStep]:
    places = await describe_places(session, {row.biz_location or row.read_point for row in rows} - {None})
    steps = []
    for row in rows:
        step = row.biz_step
        uri = row.biz_location or row.read_point
        place = places.get(uri) if uri else None
        vi, en = summary(step, place)
        steps.append(
            TraceStep(
                event_time=row.event_time, biz_step=step, disposition=row.disposition,
                action=row.action, event_type=row.type, place=place, summary_vi=vi, summary_en=en,
            )
        )  # fmt: skip
    return steps


@dataclass(frozen=True, slots=True)
class Sighting:
    """A stamp (or its lot) seen by an EPCIS event at a registered site: when, which step, and the site."""

    serial: str
    of_lot: bool
    biz_step: str
    at: datetime
    province_code: str
    kind: str
    latitude: float | None
    longitude: float | None


async def sightings(
    session: AsyncSession, *, stamps: Collection[tuple[str, str, str | None]], biz_steps: Collection[str],
    until: datetime,
) -> dict[str, list[Sighting]]:  # fmt: skip
    """For each stamp (serial, GTIN, lot), the events of ``biz_steps`` up to ``until`` that name it or its lot
    at a registered site, oldest first (two statements for all of them: the events, then the sites).

    The anomaly detector's read of the chain (R8, R9, R11): events at an unregistered place are left out.
    """
    wanted: dict[str, list[tuple[str, bool]]] = {}
    for serial, gtin, lot in stamps:
        forms = _object_forms(serial, gtin, lot)
        for index, form in enumerate(forms):
            wanted.setdefault(form, []).append((serial, index == 1))
    rows = await TraceabilityRepository(session).sightings(
        sorted(wanted), biz_steps=sorted(biz_steps), until=until
    )
    places = await locations.describe(session, uris={row.place for row in rows}) if rows else {}
    found: dict[str, list[Sighting]] = {}
    for row in rows:
        place = places.get(row.place)
        if place is None:
            continue
        for serial, of_lot in wanted.get(row.epc, ()):
            found.setdefault(serial, []).append(
                Sighting(
                    serial, of_lot, row.biz_step, row.event_time, place.province_code, place.kind,
                    place.latitude, place.longitude,
                )
            )  # fmt: skip
    return found


def _object_forms(serial: str, gtin: str, lot: str | None) -> list[str]:
    """The stamp and its lot in the canonical form events are matched on."""
    forms = [identifiers.canonical(f"https://id.gs1.org/01/{gtin}/21/{serial}")]
    if lot:
        forms.append(identifiers.canonical(f"https://id.gs1.org/01/{gtin}/10/{lot}"))
    return forms


async def journey(database: Database, *, serial: str, gtin: str, lot: str | None) -> list[TraceStep]:
    """A known stamp's chain for its verification page (its lot's and containers' events too), in one statement
    of a session of its own; empty if it cannot be read (the page loses its timeline, never its verdict)."""
    try:
        async with database.sessionmaker() as session:
            rows = await TraceabilityRepository(session).chain(
                EVERYTHING, _object_forms(serial, gtin, lot), lot_of=None, limit=MAX_TRACE_STEPS
            )
            return await _steps(session, rows[:MAX_TRACE_STEPS])
    except (SQLAlchemyError, OSError):
        logger.warning("the journey of stamp %s could not be read", serial, exc_info=True)
        return []


async def stamp_trace(session: AsyncSession, *, serial: str) -> Trace:
    """The journey of one stamp (public: a consumer may see the path of the stamp in hand, nothing internal)."""
    if problem := gs1.serial_problem(serial):
        raise InvalidTraceField("serial", problem)
    repository = TraceabilityRepository(session)
    stamp = await repository.stamp(serial)
    if stamp is None:
        raise StampNotFound(f"No stamp {serial}")
    rows = await repository.chain(
        EVERYTHING, _object_forms(serial, stamp.gtin, stamp.lot), lot_of=None, limit=MAX_TRACE_STEPS
    )
    steps = await _steps(session, rows[:MAX_TRACE_STEPS])
    return Trace(
        serial=serial, gtin=stamp.gtin, lot=stamp.lot, steps=steps, truncated=len(rows) > MAX_TRACE_STEPS
    )


async def lot_trace(session: AsyncSession, *, principal: Principal, gtin: str, lot: str) -> Trace:
    """The chain of a lot (its class and its stamps) among the events the caller may read."""
    require_authenticated(principal)
    try:
        gtin = gs1.gtin14(gtin)
    except gs1.InvalidIdentifier as error:
        raise InvalidTraceField("query.gtin", error.message) from None
    if not 1 <= len(lot) <= gs1.MAX_QUALIFIER:
        raise InvalidTraceField("query.lot", f"1 to {gs1.MAX_QUALIFIER} characters")
    try:
        lot_form = identifiers.canonical(f"https://id.gs1.org/01/{gtin}/10/{lot}")
    except gs1.InvalidIdentifier as error:
        raise InvalidTraceField("query.lot", error.message) from None
    rows = await TraceabilityRepository(session).chain(
        policies.epcis_visibility(principal), [lot_form], lot_of=(gtin, lot), limit=MAX_TRACE_STEPS
    )
    steps = await _steps(session, rows[:MAX_TRACE_STEPS])
    return Trace(gtin=gtin, lot=lot, steps=steps, truncated=len(rows) > MAX_TRACE_STEPS)
