"""The trace view's bodies and the parsed EPCIS query (the query's answer is an EPCISQueryDocument, written raw)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import Field

from shared.schemas import ReadSchema


@dataclass(frozen=True)
class EventQuery:
    """An EPCIS SimpleEventQuery's filters as the repository applies them (each list: any of its values)."""

    event_types: tuple[str, ...] = ()
    ge_event_time: datetime | None = None
    lt_event_time: datetime | None = None
    ge_record_time: datetime | None = None
    actions: tuple[str, ...] = ()
    biz_steps: tuple[str, ...] = ()
    dispositions: tuple[str, ...] = ()
    read_points: tuple[str, ...] = ()
    biz_locations: tuple[str, ...] = ()
    # Each a list of identifier forms (every accepted spelling of the values asked for).
    match_epc: tuple[str, ...] = ()
    match_any_epc: tuple[str, ...] = ()
    match_epc_class: tuple[str, ...] = ()
    # Export only: events naming an instance or class of this GTIN.
    gtin: str | None = None
    province_code: str | None = None
    per_page: int = 30
    after: tuple[datetime, uuid.UUID] | None = None
    given: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EventPage:
    """A page of events, each its JSON text as stored, and the token of the next page (None: last page)."""

    events: list[str]
    next_page_token: str | None


class TracePlace(ReadSchema):
    """Where a step happened: the location's name, commune and province as its owner registered them."""

    uri: str = Field(description="The readPoint or bizLocation of the event")
    name: str | None = Field(description="The site's name (the raw URI when it is not registered)")
    commune: str | None = Field(description="The commune's name (the registry's where it knows the commune)")
    commune_code: str | None
    province: str | None


class TraceStep(ReadSchema):
    """One event of the chain, described for people."""

    event_time: datetime
    biz_step: str | None = Field(
        description="CBV business step, bare word (commissioning, packing, shipping, …)"
    )
    disposition: str | None
    action: str | None
    event_type: str
    place: TracePlace | None
    summary_vi: str
    summary_en: str


class Trace(ReadSchema):
    """The chain of a stamp or a lot, in time order."""

    serial: str | None = None
    gtin: str
    lot: str | None = None
    steps: list[TraceStep]
    truncated: bool = Field(description="More steps exist than the view shows (the first ones are shown)")
