"""Every SQL statement of the traceability reads: one statement per page, per event, per trace; the export streamed.

It reads the EPCIS tables (written by the epcis package), the stamps and their batches, and writes none.
Events are served from ``doc`` as stored: the statements hand back its JSON text, never a rebuilt event.
"""

from __future__ import annotations

import typing
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    Text,
    and_,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    tuple_,
    union,
)
from sqlalchemy.ext.asyncio import AsyncSession

from services.stamps.batches.models import StampBatch
from services.stamps.epcis.models import EpcisEvent, EpcisEventEpc
from services.stamps.lifecycle.models import Stamp
from services.stamps.traceability.schemas import EventQuery
from shared.security.scopes import Visibility, visible_condition

EVENTS = typing.cast(Table, EpcisEvent.__table__)
EPCS = typing.cast(Table, EpcisEventEpc.__table__)
STAMPS = typing.cast(Table, Stamp.__table__)
BATCHES = typing.cast(Table, StampBatch.__table__)

# The roles each identifier parameter looks in (EPCIS 2.0 §8.2.7.1).
EPC_ROLES = ("epc", "child")
ANY_EPC_ROLES = ("epc", "parent", "child", "input", "output")
CLASS_ROLES = ("quantity", "child_quantity")
# Rows a FETCH of the export's server-side cursor brings.
FETCH_ROWS = 1_000


def _served(standalone: bool = False) -> ColumnElement[Any]:
    """The event's JSON text: ``doc`` as stored, with the repository's recordTime unless it carries one.

    A standalone event (GET /events/{id}) also needs the ``@context`` a document would otherwise give it.
    """
    record_time = func.to_char(
        func.timezone("UTC", EVENTS.c.record_time), literal('YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    )
    added: ColumnElement[Any] = func.jsonb_build_object(literal("recordTime"), record_time)
    if standalone:
        added = added.op("||")(
            func.jsonb_build_object(
                literal("@context"),
                func.jsonb_build_array(
                    literal("https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld")
                ),
            )
        )
    return cast(added.op("||")(EVENTS.c.doc), Text).label("doc")


def _naming(spellings: Sequence[str], roles: Sequence[str]) -> ColumnElement[bool]:
    """Events that name one of ``spellings`` in one of ``roles`` (the indexed epc column, a semi-join)."""
    return exists(
        select(literal(1))
        .select_from(EPCS)
        .where(EPCS.c.event_uuid == EVENTS.c.id, EPCS.c.epc.in_(spellings), EPCS.c.role.in_(roles))
    )


def _of_gtin(gtin: str) -> ColumnElement[bool]:
    """Events that name an instance, lot or class of ``gtin`` (canonical forms ``/01/{gtin}[/…]``)."""
    prefix = f"/01/{gtin}"
    return exists(
        select(literal(1))
        .select_from(EPCS)
        .where(
            EPCS.c.event_uuid == EVENTS.c.id, or_(EPCS.c.epc == prefix, EPCS.c.epc.startswith(prefix + "/"))
        )
    )


def _conditions(visible: Visibility, query: EventQuery) -> list[ColumnElement[bool]]:
    """The WHERE of a query: the caller's visibility first, then each filter given."""
    where = [visible_condition(visible, entity=EVENTS.c.entity_id, province=EVENTS.c.province_code)]
    pairs: list[tuple[tuple[str, ...], Any]] = [
        (query.event_types, EVENTS.c.type),
        (query.actions, EVENTS.c.action),
        (query.biz_steps, EVENTS.c.biz_step),
        (query.dispositions, EVENTS.c.disposition),
        (query.read_points, EVENTS.c.read_point),
        (query.biz_locations, EVENTS.c.biz_location),
    ]
    where += [column.in_(values) for values, column in pairs if values]
    if query.ge_event_time is not None:
        where.append(EVENTS.c.event_time >= query.ge_event_time)
    if query.lt_event_time is not None:
        where.append(EVENTS.c.event_time < query.lt_event_time)
    if query.ge_record_time is not None:
        where.append(EVENTS.c.record_time >= query.ge_record_time)
    if query.match_epc:
        where.append(_naming(query.match_epc, EPC_ROLES))
    if query.match_any_epc:
        where.append(_naming(query.match_any_epc, ANY_EPC_ROLES))
    if query.match_epc_class:
        where.append(_naming(query.match_epc_class, CLASS_ROLES))
    if query.gtin is not None:
        where.append(_of_gtin(query.gtin))
    if query.province_code is not None:
        where.append(EVENTS.c.province_code == query.province_code)
    return where


def page_statement(visible: Visibility, query: EventQuery) -> Select[Any]:
    """The one statement of a page of events (also what bench/epcis_query.py explains)."""
    statement = (
        select(EVENTS.c.id, EVENTS.c.event_time, _served())
        .where(*_conditions(visible, query))
        .order_by(EVENTS.c.event_time, EVENTS.c.id)
        .limit(query.per_page + 1)
    )
    if query.after is not None:
        statement = statement.where(tuple_(EVENTS.c.event_time, EVENTS.c.id) > tuple_(*query.after))
    return statement


class TraceabilityRepository:
    """Reads of the EPCIS events within the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def page(self, visible: Visibility, query: EventQuery) -> Sequence[Any]:
        """Up to ``per_page + 1`` events in (eventTime, id) order after the token's key: one statement."""
        return list((await self.session.execute(page_statement(visible, query))).all())

    async def event(self, visible: Visibility, event_id: str) -> str | None:
        """One event's JSON text (with its @context) by eventID, if ``visible`` admits it."""
        statement = select(_served(standalone=True)).where(
            EVENTS.c.event_id == event_id,
            visible_condition(visible, entity=EVENTS.c.entity_id, province=EVENTS.c.province_code),
        )
        return typing.cast(str | None, (await self.session.execute(statement)).scalar_one_or_none())

    async def stream(self, visible: Visibility, query: EventQuery) -> AsyncGenerator[Sequence[str]]:
        """The events of an export in eventTime order, a fetch at a time (a server-side cursor)."""
        statement = (
            select(_served())
            .where(*_conditions(visible, query))
            .order_by(EVENTS.c.event_time, EVENTS.c.id)
            .execution_options(yield_per=FETCH_ROWS)
        )
        result = await self.session.stream(statement)
        async for rows in result.partitions():
            yield [row.doc for row in rows]

    async def stamp(self, serial: str) -> Any:
        """A stamp's GTIN, lot and state (through its batch)."""
        statement = (
            select(STAMPS.c.serial, STAMPS.c.lot, STAMPS.c.state, BATCHES.c.gtin)
            .join(BATCHES, BATCHES.c.id == STAMPS.c.batch_id)
            .where(STAMPS.c.serial == serial)
        )
        return (await self.session.execute(statement)).first()

    async def sightings(
        self, spellings: Sequence[str], *, biz_steps: Sequence[str], until: Any
    ) -> Sequence[Any]:
        """Events up to ``until`` of ``biz_steps`` at a known place that name one of ``spellings`` as an EPC or
        a class: each (epc, biz_step, event_time, place) row, oldest first (one statement, the epc index)."""
        if not spellings:
            return []
        statement = (
            select(
                EPCS.c.epc, EVENTS.c.biz_step, EVENTS.c.event_time,
                func.coalesce(EVENTS.c.biz_location, EVENTS.c.read_point).label("place"),
            )
            .select_from(EPCS.join(EVENTS, EVENTS.c.id == EPCS.c.event_uuid))
            .where(
                EPCS.c.epc.in_(spellings), EPCS.c.role.in_((*EPC_ROLES, *CLASS_ROLES)),
                EVENTS.c.biz_step.in_(biz_steps), EVENTS.c.event_time <= until,
                or_(EVENTS.c.biz_location.is_not(None), EVENTS.c.read_point.is_not(None)),
            )
            .order_by(EVENTS.c.event_time, EVENTS.c.id)
        )  # fmt: skip
        return (await self.session.execute(statement)).all()

    async def chain(
        self, visible: Visibility, spellings: Sequence[str], *, lot_of: tuple[str, str] | None, limit: int
    ) -> Sequence[Any]:
        """The chain of the objects ``spellings`` name (and of a lot's stamps), in time order, in one statement.

        It follows the containers they were packed into: the parents of the aggregation events that name
        them as children, so a carton's shipping and receiving belong to each unit in it.
        """
        named = select(EPCS.c.epc).where(EPCS.c.epc.in_(spellings))
        if lot_of is not None:
            gtin, lot = lot_of
            serials = (
                select(STAMPS.c.serial)
                .join(BATCHES, BATCHES.c.id == STAMPS.c.batch_id)
                .where(BATCHES.c.gtin == gtin, STAMPS.c.lot == lot)
            ).subquery()
            # The lot's stamps in the canonical form (a stamp serial is upper-case Crockford: nothing to encode).
            path = literal(f"/01/{gtin}/21/") + serials.c.serial
            named = union(named, select(path).select_from(serials))  # type: ignore[assignment]
        objects = named.cte("objects")
        child = EPCS.alias("child")
        parent = EPCS.alias("parent")
        containers = (
            select(parent.c.epc)
            .select_from(
                child.join(parent, and_(parent.c.event_uuid == child.c.event_uuid, parent.c.role == "parent"))
            )
            .where(child.c.role == "child", child.c.epc.in_(select(objects.c.epc)))
        )
        every = union(select(objects.c.epc), containers).cte("every_epc")
        statement = (
            select(
                EVENTS.c.event_time, EVENTS.c.type, EVENTS.c.action, EVENTS.c.biz_step, EVENTS.c.disposition,
                EVENTS.c.read_point, EVENTS.c.biz_location,
            )
            .where(
                visible_condition(visible, entity=EVENTS.c.entity_id, province=EVENTS.c.province_code),
                exists(
                    select(literal(1)).select_from(EPCS).where(
                        EPCS.c.event_uuid == EVENTS.c.id, EPCS.c.epc.in_(select(every.c.epc))
                    )
                ),
            )
            .order_by(EVENTS.c.event_time, EVENTS.c.id)
            .limit(limit + 1)
        )  # fmt: skip
        return (await self.session.execute(statement)).all()
