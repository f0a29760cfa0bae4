"""The rules of the stamp lifecycle (TRACEABILITY §4.4): who moves which stamps from which state to which.

reserved → issued (province) → active (producer, certificate in force) ⇄ suspended (province);
active/suspended → revoked (province); reserved/issued/active → void (producer or province).
A list of serials is all or nothing; a batch moves its stamps in an allowed state and skips the rest.
A stamp already in the target state is unchanged, so the same request twice changes nothing the second time.

A whole batch of more than ``sync_max`` stamps is not changed in the request: the change is queued
(``status`` queued) and the lifecycle job (runner.py) applies it ``run_change_chunk`` by chunk, each chunk
one transaction with its audit items and EPCIS events and the change's progress, so a job cut short resumes
after the last chunk committed and moves no stamp twice. The same request while it is queued or running
answers the same change.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.stamps import policies
from services.stamps.config import DEFAULT_RESOLVER_HOST
from services.stamps.epcis import service as epcis
from services.stamps.epcis.stamp_events import MovedStamp, events_for_change
from services.stamps.lifecycle.errors import (
    BatchNotGenerated,
    ProductNotCertified,
    StampBatchNotFound,
    StampChangeNotFound,
    StampChangePending,
    StampNotFound,
    StampStateConflict,
)
from services.stamps.lifecycle.models import StampChange
from services.stamps.lifecycle.repository import Activation, Moved, StampRepository, Transition
from services.stamps.lifecycle.schemas import StampChangeRequest
from services.stamps.locations import service as locations
from services.stamps.locations.errors import LocationNotFound
from services.stamps.snapshot import service as snapshot
from shared import clock, gs1
from shared.errors import InvalidField
from shared.pagination import KeysetPage, decode_cursor
from shared.security.dependencies import Forbidden, require_authenticated
from shared.security.principal import Principal
from shared.security.scopes import Place

# action → (the states it starts from, the state it leads to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "issue": (("reserved",), "issued"),
    "activate": (("issued",), "active"),
    "suspend": (("active",), "suspended"),
    "unsuspend": (("suspended",), "active"),
    "revoke": (("active", "suspended"), "revoked"),
    "void": (("reserved", "issued", "active"), "void"),
}
REASON_REQUIRED = frozenset({"suspend", "revoke", "void"})
# Stamps are activated while the product's certificate is in force (an expiring one still is).
ACTIVATABLE = frozenset({"certified", "expiring"})
AUTOMATIC_ACTOR = "system:anomalies"
# At most this many offending serials are named in a 409 (the count names them all).
OFFENDING_SHOWN = 100


@dataclass(frozen=True)
class ChangeResult:
    """What one operation did."""

    change_id: int
    action: str
    requested: int
    changed: int
    unchanged: int
    skipped: int
    by_state: dict[str, int]


@dataclass(frozen=True)
class ChangeStatus:
    """A change as it stands (a background one with its progress): done of total, rate, time left, counts."""

    change: StampChange
    done: int
    total: int
    rate_per_s: float | None
    eta_s: float | None
    unchanged: int
    skipped: int
    by_state: dict[str, int]


@dataclass(frozen=True)
class StampDetail:
    """A stamp and the operations that moved it."""

    stamp: Any
    history: Sequence[Any]


def _place(row: Any) -> Place:
    return Place(row.entity_id, None, row.province_code)


def _checked_input(action: str, data: StampChangeRequest, today: date) -> list[str] | None:
    """The request's rules a schema cannot say; the serials without repeats (None: a batch)."""
    if (data.serials is None) == (data.batch_id is None):
        raise InvalidField("body.serials", "give exactly one of serials and batch_id", code="selector")
    if action in REASON_REQUIRED and not data.reason:
        raise InvalidField("body.reason", f"a reason is required to {action} stamps", code="missing")
    if action != "activate":
        for name in ("lot", "production_date", "expiry_date", "location_id"):
            if getattr(data, name) is not None:
                raise InvalidField(
                    f"body.{name}", "only an activation takes a lot, dates and a site", code="extra"
                )
    if data.production_date is not None and data.production_date > today + timedelta(days=1):
        raise InvalidField("body.production_date", "a production date is not after tomorrow", code="future")
    if (
        data.expiry_date is not None
        and data.production_date is not None
        and data.expiry_date < data.production_date
    ):
        raise InvalidField(
            "body.expiry_date", "the expiry date is not before the production date", code="order"
        )
    if data.serials is None:
        return None
    for index, serial in enumerate(data.serials):
        if (problem := gs1.serial_problem(serial)) is not None:
            raise InvalidField(f"body.serials[{index}]", problem, code="serial")
    return list(dict.fromkeys(data.serials))


async def _check_batch_rules(
    session: AsyncSession, action: str, batch: Any, data: StampChangeRequest, today: date, field: str
) -> None:
    """The rules of §4.4 that hold per batch: issued once generated, activated while certified, its lot."""
    if action == "issue" and batch.batch_status != "generated":
        raise BatchNotGenerated(
            f"Batch {batch.batch_id} is {batch.batch_status}: its stamps are issued once it is generated",
            current_status=batch.batch_status, field=field,
        )  # fmt: skip
    if action == "activate":
        product = await snapshot.certification_of(session, product_id=batch.product_id, today=today)
        verdict = product.verdict if product is not None else "none"
        if verdict not in ACTIVATABLE:
            raise ProductNotCertified(
                f"Product {batch.product_id} holds no OCOP certificate in force today ({verdict})",
                product_id=str(batch.product_id), verdict=verdict, field=field,
            )  # fmt: skip
        if data.lot is not None and batch.batch_lot is not None and data.lot != batch.batch_lot:
            raise InvalidField("body.lot", f"the batch's lot is {batch.batch_lot}", code="lot")


async def _site(
    session: AsyncSession, principal: Principal, data: StampChangeRequest, owners: set[uuid.UUID]
) -> str | None:
    """The URI of the site an activation names (one of the stamps' producer's own), or None."""
    if data.location_id is None:
        return None
    try:
        site = await locations.get_location(session, principal=principal, location_id=data.location_id)
    except LocationNotFound:
        site = None
    if site is None or owners != {site.entity_id}:
        raise LocationNotFound(
            f"No site {data.location_id} of the stamps' producer", field="body.location_id"
        )
    return site.uri


async def change_states(
    session: AsyncSession, *, principal: Principal, action: str, data: StampChangeRequest, today: date,
    resolver_host: str = DEFAULT_RESOLVER_HOST, sync_max: int | None = None,
) -> ChangeResult | ChangeStatus:  # fmt: skip
    """Move the selected stamps by ``action``, audited: a list all or nothing, a batch skipping other states.

    The stamps moved are recorded in the EPCIS repository as the events §4.4 names (epcis.stamp_events),
    their EPCs Digital Links on ``resolver_host``, in the same transaction. A batch of more than
    ``sync_max`` stamps is queued for the background job instead: its ChangeStatus (queued, or the same
    change still queued or running).
    """
    require_authenticated(principal)
    serials = _checked_input(action, data, today)
    repository = StampRepository(session)
    from_states, to_state = TRANSITIONS[action]
    batch_id: uuid.UUID | None
    if serials is not None:
        rows = await repository.lock_listed(serials)
        found = {row.serial: row for row in rows}
        batches = {row.batch_id: row for row in rows}
        invisible = {batch for batch, row in batches.items() if not policies.can_read(principal, _place(row))}
        for index, serial in enumerate(serials):
            if serial not in found or found[serial].batch_id in invisible:
                raise StampNotFound(f"No stamp {serial}", field=f"body.serials[{index}]", serial=serial)
        for row in batches.values():
            if not policies.can_change_stamps(principal, action, _place(row)):
                raise Forbidden(f"Stamps of batch {row.batch_id} may not be {to_state} by this caller.")
        offending = [row for row in rows if row.state not in from_states and row.state != to_state]
        if offending:
            raise StampStateConflict(
                f"{len(offending)} of the listed stamps cannot be {to_state}: {action} starts from "
                f"{', '.join(from_states)}",
                offending=[{"serial": row.serial, "state": row.state} for row in offending[:OFFENDING_SHOWN]],
                offending_count=len(offending),
            )  # fmt: skip
        for row in batches.values():
            await _check_batch_rules(session, action, row, data, today, "body.serials")
        site = await _site(session, principal, data, {row.entity_id for row in batches.values()})
        batch_id = next(iter(batches)) if len(batches) == 1 else None
    elif (batch_id := data.batch_id) is not None:
        batch = await repository.batch(batch_id)
        if batch is None or not policies.can_read(principal, _place(batch)):
            raise StampBatchNotFound(f"No stamp batch {batch_id}", field="body.batch_id")
        if not policies.can_change_stamps(principal, action, _place(batch)):
            raise Forbidden(f"Stamps of batch {batch_id} may not be {to_state} by this caller.")
        await _check_batch_rules(session, action, batch, data, today, "body.batch_id")
        site = await _site(session, principal, data, {batch.entity_id})
        await repository.lock_batch(batch_id)
        if sync_max is not None and batch.generated > sync_max:
            return await _queue(repository, principal, action, data, batch_id, batch.generated)
    now = clock.now()
    activation = None
    if action == "activate":
        activation = Activation(principal.sub, data.lot, data.production_date, data.expiry_date)
    change_id = await repository.open_change(
        action=action, actor=principal.sub, actor_role=principal.role.value, reason=data.reason,
        batch_id=batch_id, requested=len(serials) if serials is not None else 0, at=now, activation=activation,
        location_id=data.location_id,
    )  # fmt: skip
    moved = await repository.move(
        Transition(change_id, from_states, to_state, data.reason, now, activation),
        serials=serials, batch_id=None if serials is not None else batch_id, with_stamps=True,
    )  # fmt: skip
    await _record_epcis_events(
        session, repository, action, moved, change_id, now, resolver_host, location=site
    )
    return await _result(repository, change_id, action, to_state, moved)


async def _queue(
    repository: StampRepository, principal: Principal, action: str,
    data: StampChangeRequest, batch_id: uuid.UUID, total: int,
) -> ChangeStatus:  # fmt: skip
    """Queue a whole-batch change for the job (the batch lock held), or answer the same one still pending."""
    pending = await repository.pending_change(batch_id)
    if pending is not None:
        asked = (action, data.reason, data.lot, data.production_date, data.expiry_date, data.location_id)
        if asked == (pending.action, pending.reason, pending.lot, pending.production_date, pending.expiry_date,
                     pending.location_id):  # fmt: skip
            return status_of(pending)
        raise StampChangePending(
            f"Change {pending.id} ({pending.action}) of batch {batch_id} is {pending.status}: ask again once it is done",
            change_id=pending.id, field="body.batch_id",
        )  # fmt: skip
    activation = None
    if action == "activate":
        activation = Activation(principal.sub, data.lot, data.production_date, data.expiry_date)
    change_id = await repository.open_change(
        action=action, actor=principal.sub, actor_role=principal.role.value, reason=data.reason,
        batch_id=batch_id, requested=0, at=clock.now(), activation=activation, location_id=data.location_id,
        total=total,
    )  # fmt: skip
    change = await repository.change(change_id)
    if change is None:  # inserted just now, in this transaction
        raise StampChangeNotFound(f"No stamp change {change_id}")
    return status_of(change)


def status_of(change: StampChange) -> ChangeStatus:
    """A change's progress and counts (a change made in its request is done: its total is what it selected)."""
    by_state = {state: int(n) for state, n in (change.by_state or {}).items()}
    done = change.requested
    total = change.total if change.total is not None else done
    rate = eta = None
    if change.started_at is not None and done > 0:
        elapsed = ((change.finished_at or clock.now()) - change.started_at).total_seconds()
        if elapsed > 0:
            rate = done / elapsed
            eta = 0.0 if change.status == "done" else max(total - done, 0) / rate
    unchanged = by_state.get(TRANSITIONS[change.action][1], 0)
    return ChangeStatus(
        change,
        done,
        total,
        rate,
        eta,
        unchanged,
        sum(by_state.values()) - change.changed - unchanged,
        by_state,
    )


async def get_change(session: AsyncSession, *, principal: Principal, change_id: int) -> ChangeStatus:
    """A change the caller may see (through its batch: its producer, its province's officers, admins)."""
    require_authenticated(principal)
    repository = StampRepository(session)
    change = await repository.change(change_id)
    batch = await repository.batch(change.batch_id) if change is not None and change.batch_id else None
    place = _place(batch) if batch is not None else Place(None, None, None)
    if change is None or not policies.can_read(principal, place):
        raise StampChangeNotFound(f"No stamp change {change_id}", field="path.change_id")
    return status_of(change)


async def pending_changes(session: AsyncSession, *, limit: int) -> list[int]:
    """The ids of the changes the job has to (go on to) apply, oldest first."""
    return await StampRepository(session).pending_changes(limit)


async def run_change_chunk(
    session: AsyncSession, *, change_id: int, chunk: int, resolver_host: str = DEFAULT_RESOLVER_HOST
) -> bool:
    """Apply the next ``chunk`` stamps of a queued or running change, in the caller's transaction; whether
    more remain. The change row is locked (another process's job skips it) and advanced with the stamps."""
    repository = StampRepository(session)
    change = await repository.lock_pending(change_id)
    if change is None or change.batch_id is None:
        return False
    await repository.lock_batch(change.batch_id)
    now = clock.now()
    if change.status == "queued":
        change.status, change.started_at = "running", now
    serials = await repository.next_serials(change.batch_id, after=change.after_serial, limit=chunk)
    if serials:
        from_states, to_state = TRANSITIONS[change.action]
        activation = None
        if change.action == "activate":
            activation = Activation(change.actor, change.lot, change.production_date, change.expiry_date)
        moved = await repository.move(
            Transition(change.id, from_states, to_state, change.reason, now, activation),
            serials=serials, with_stamps=True,
        )  # fmt: skip
        site = None
        if change.location_id is not None:
            site = (await locations.public_place(session, location_id=change.location_id)).uri
        await _record_epcis_events(
            session, repository, change.action, moved, change.id, now, resolver_host, location=site,
            portion=serials[0],
        )  # fmt: skip
        by_state = dict(change.by_state or {})
        for state, n in moved.before.items():
            by_state[state] = by_state.get(state, 0) + n
        change.by_state = by_state
        change.requested += sum(moved.before.values())
        change.changed += sum(moved.moved.values())
        change.after_serial = serials[-1]
    more = len(serials) == chunk
    if not more:
        change.status, change.finished_at = "done", now
    await repository.save_change(change)
    return more


async def fail_change(session: AsyncSession, *, change_id: int, message: str) -> None:
    """A background change stopped on an error: it is failed (the chunks committed stay; asking again goes on)."""
    await StampRepository(session).fail_change(change_id, error=message, at=clock.now())


async def _record_epcis_events(
    session: AsyncSession, repository: StampRepository, action: str, moved: Moved, change_id: int, at: datetime,
    host: str, *, location: str | None = None, portion: str | None = None,
) -> None:  # fmt: skip
    """Store the EPCIS events of the stamps a change moved (TRACEABILITY §4.4), one per ≤ 10,000 of them."""
    if not moved.stamps:
        return
    batches = await repository.owners_of_batches(sorted({row.batch_id for row in moved.stamps}))
    stamps = [
        MovedStamp(
            row.serial,
            batches[row.batch_id].gtin,
            row.lot,
            row.production_date,
            row.expiry_date,
            batches[row.batch_id].entity_id,
            batches[row.batch_id].province_code,
        )
        for row in moved.stamps
    ]
    generated = events_for_change(
        action, stamps, change_id=change_id, at=at, host=host, location=location, portion=portion
    )
    for owner in generated:
        await epcis.record_events(
            session, events=owner.events, entity_id=owner.entity_id, province_code=owner.province_code
        )


async def _result(
    repository: StampRepository, change_id: int, action: str, to_state: str, moved: Moved
) -> ChangeResult:
    changed = sum(moved.moved.values())
    requested = sum(moved.before.values())
    unchanged = moved.before.get(to_state, 0)
    await repository.close_change(change_id, changed=changed, requested=requested, by_state=moved.before)
    return ChangeResult(
        change_id=change_id, action=action, requested=requested, changed=changed, unchanged=unchanged,
        skipped=requested - changed - unchanged, by_state=moved.before,
    )  # fmt: skip


async def suspend_automatically(
    session: AsyncSession, *, serials: list[str], reason: str, resolver_host: str = DEFAULT_RESOLVER_HOST
) -> int:
    """Suspend stamps the anomaly detector flags; how many moved.

    Contract: only ``active`` stamps move (to ``suspended``, with ``reason`` as their state reason);
    serials unknown or in another state are ignored, never an error. One ``stamp_change`` row (actor
    ``system:anomalies``, role ``system``) and one item per stamp moved are written in the caller's
    transaction, which the caller commits. Nothing is written for an empty list. Idempotent: a stamp
    already suspended is not moved again.
    """
    unique = list(dict.fromkeys(serials))
    if not unique:
        return 0
    repository = StampRepository(session)
    now = clock.now()
    change_id = await repository.open_change(
        action="suspend", actor=AUTOMATIC_ACTOR, actor_role="system", reason=reason, batch_id=None,
        requested=len(unique), at=now,
    )  # fmt: skip
    moved = await repository.move(
        Transition(change_id, ("active",), "suspended", reason, now), serials=unique, with_stamps=True
    )
    await _record_epcis_events(session, repository, "suspend", moved, change_id, now, resolver_host)
    changed = sum(moved.moved.values())
    await repository.close_change(change_id, changed=changed, requested=len(unique))
    return changed


async def get_stamp(session: AsyncSession, *, principal: Principal, serial: str) -> StampDetail:
    """A stamp the caller may see, with its history; otherwise StampNotFound (never a hint)."""
    require_authenticated(principal)
    if (problem := gs1.serial_problem(serial)) is not None:
        raise InvalidField("path.serial", problem, code="serial")
    repository = StampRepository(session)
    stamp = await repository.detail(serial)
    if stamp is None or not policies.can_read(principal, _place(stamp)):
        raise StampNotFound(f"No stamp {serial}", field="path.serial")
    return StampDetail(stamp, await repository.history(serial))


async def list_stamps(
    session: AsyncSession, *, principal: Principal, batch_id: uuid.UUID | None, state: str | None,
    limit: int, cursor: str | None,
) -> KeysetPage[Any]:  # fmt: skip
    """The stamps the caller may see (a producer its own, an officer its province's), in serial order."""
    require_authenticated(principal)
    return await StampRepository(session).list(
        policies.visibility(principal), batch_id=batch_id, state=state,
        after=decode_cursor(cursor, str), limit=limit,
    )  # fmt: skip


@dataclass(frozen=True)
class DemoBatch:
    """A demo batch's identifiers and a few of its active and revoked stamps (the links the README shows)."""

    batch_id: uuid.UUID
    gtin: str
    lot: str | None
    active: list[str]
    revoked: list[str]


async def demo_stamps(
    session: AsyncSession, *, requested_by: str, batch_id: uuid.UUID | None = None
) -> DemoBatch | None:
    """The first batch the demo seed (``requested_by``) asked for, with some of its stamps by state."""
    repository = StampRepository(session)
    batch = await repository.first_batch_of(requested_by, batch_id)
    if batch is None:
        return None
    return DemoBatch(
        batch.id, batch.gtin, batch.lot, await repository.serials_in(batch.id, "active", 3),
        await repository.serials_in(batch.id, "revoked", 3),
    )  # fmt: skip
