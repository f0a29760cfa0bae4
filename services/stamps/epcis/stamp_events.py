"""The EPCIS events a stamp lifecycle change emits (TRACEABILITY §4.4), built from the stamps it moved. Pure.

activate   → ObjectEvent ADD, commissioning, active; ilmd: lot (``cbvmda:lotNumber``), expiry
             (``cbvmda:itemExpirationDate``) and production date (``ocop:productionDate``: CBV 2.0 has no
             production-date attribute, so it is ours, its prefix declared in the event's ``@context``)
suspend    → ObjectEvent OBSERVE, holding, non_sellable_other, persistentDisposition set non_sellable_other
unsuspend  → ObjectEvent OBSERVE, active, persistentDisposition unset non_sellable_other
revoke     → ObjectEvent OBSERVE, holding, recalled, persistentDisposition set recalled
void       → ObjectEvent DELETE, decommissioning, inactive
issue      → nothing (the stamp is not on a product yet: §2.6 keeps encoding out of the exported chain)

One event names at most ``MAX_EPCS`` stamps (a 1,000,000-stamp activation is 100 events), each as our
resolver's Digital Link of the serialised item, ``https://{host}/01/{gtin}/21/{serial}`` (the lot is in
the ilmd). An activation's events are split by producer, GTIN, lot and dates (one ilmd each). Event ids are UUID-5s of the change and the chunk, so
generating a change's events again stores nothing twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from operator import attrgetter
from typing import Any

from shared import clock

MAX_EPCS = 10_000
CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
OCOP_PREFIX = {"ocop": "https://ocop.example.gov.vn/voc/"}
# The namespace of generated event ids (urn:uuid:…, UUID version 5 of "stamp-change:{id}:{group}:{chunk}").
GENERATED_NAMESPACE = uuid.UUID("3b0a7f0e-52c4-5d1e-8f47-6a9d2c1e0b35")
# action → (EPCIS action, bizStep, disposition, persistentDisposition)
SHAPES: dict[str, tuple[str, str | None, str, dict[str, list[str]] | None]] = {
    "activate": ("ADD", "commissioning", "active", None),
    "suspend": ("OBSERVE", "holding", "non_sellable_other", {"set": ["non_sellable_other"]}),
    "unsuspend": ("OBSERVE", None, "active", {"unset": ["non_sellable_other"]}),
    "revoke": ("OBSERVE", "holding", "recalled", {"set": ["recalled"]}),
    "void": ("DELETE", "decommissioning", "inactive", None),
}


@dataclass(frozen=True)
class MovedStamp:
    """A stamp a change moved, with what its events say about it and who owns it."""

    serial: str
    gtin: str
    lot: str | None
    production_date: date | None
    expiry_date: date | None
    entity_id: uuid.UUID
    province_code: str


@dataclass(frozen=True)
class Generated:
    """The events of one owner (producer and province): ``record_events`` stores them under it."""

    entity_id: uuid.UUID
    province_code: str
    events: list[dict[str, Any]]


def _key(action: str, stamp: MovedStamp) -> tuple[Any, ...]:
    """What splits a change's events: the owner, and for an activation what the ilmd says."""
    owner = (stamp.entity_id, stamp.province_code)
    if action != "activate":
        return owner
    return (*owner, stamp.gtin, stamp.lot, stamp.production_date, stamp.expiry_date)


def _ilmd(stamp: MovedStamp) -> dict[str, Any]:
    ilmd: dict[str, Any] = {}
    if stamp.lot:
        ilmd["cbvmda:lotNumber"] = stamp.lot
    if stamp.expiry_date is not None:
        ilmd["cbvmda:itemExpirationDate"] = stamp.expiry_date.isoformat()
    if stamp.production_date is not None:
        ilmd["ocop:productionDate"] = stamp.production_date.isoformat()
    return ilmd


def events_for_change(
    action: str, stamps: Sequence[MovedStamp], *, change_id: int, at: datetime, host: str,
    location: str | None = None, portion: str | None = None,
) -> list[Generated]:  # fmt: skip
    """The events ``action`` emits for ``stamps`` (none for an action without any), grouped by owner.

    ``location`` (a site's SGLN or platform URI) is the events' readPoint and bizLocation. ``portion`` names one
    portion of a change made in portions (a background job's chunk), so each portion's event ids are its own.
    """
    if action not in SHAPES or not stamps:
        return []
    epcis_action, biz_step, disposition, persistent = SHAPES[action]
    moment = at.astimezone(clock.VIETNAM)
    offset = moment.strftime("%z")
    base: dict[str, Any] = {
        "type": "ObjectEvent", "eventTime": moment.isoformat(timespec="milliseconds"),
        "eventTimeZoneOffset": f"{offset[:3]}:{offset[3:]}", "action": epcis_action,
    }  # fmt: skip
    groups: dict[tuple[Any, ...], list[MovedStamp]] = {}
    for stamp in stamps:
        groups.setdefault(_key(action, stamp), []).append(stamp)
    owners: dict[tuple[Any, ...], Generated] = {}
    for group, key in enumerate(sorted(groups, key=str)):
        batch = sorted(groups[key], key=attrgetter("serial"))
        first = batch[0]
        for chunk, start in enumerate(range(0, len(batch), MAX_EPCS)):
            part = batch[start : start + MAX_EPCS]
            name = f"stamp-change:{change_id}:{group}:{chunk}"
            if portion is not None:
                name = f"stamp-change:{change_id}:{portion}:{group}:{chunk}"
            event_id = uuid.uuid5(GENERATED_NAMESPACE, name)
            event: dict[str, Any] = {
                **base, "eventID": f"urn:uuid:{event_id}",
                "epcList": [f"https://{host.lower()}/01/{stamp.gtin.zfill(14)}/21/{stamp.serial}" for stamp in part],
            }  # fmt: skip
            if biz_step is not None:
                event["bizStep"] = biz_step
            event["disposition"] = disposition
            if location is not None:
                event["readPoint"] = {"id": location}
                event["bizLocation"] = {"id": location}
            if persistent is not None:
                event["persistentDisposition"] = persistent
            if action == "activate" and (ilmd := _ilmd(first)):
                event["ilmd"] = ilmd
                if "ocop:productionDate" in ilmd:
                    event = {"@context": [CONTEXT, OCOP_PREFIX], **event}
            owner = owners.setdefault(key[:2], Generated(first.entity_id, first.province_code, []))
            owner.events.append(event)
    return list(owners.values())
