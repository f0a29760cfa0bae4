"""The anomaly detector's round and the review queue: what is raised, for whom, and who closes it."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.stamps import policies
from services.stamps.anomalies import examined as examined_scans
from services.stamps.anomalies import rules
from services.stamps.anomalies.errors import AnomalyAlreadyResolved, AnomalyNotFound
from services.stamps.anomalies.models import Anomaly
from services.stamps.anomalies.repository import AnomalyRepository, NewScan
from services.stamps.anomalies.rules import Context, Evaluation, Finding, RetailSale, Scan, ScannerHour
from services.stamps.anomalies.schemas import AnomalyFilter
from services.stamps.config import AnomalySettings
from services.stamps.lifecycle import service as lifecycle
from services.stamps.outbox import OUTBOX
from services.stamps.traceability import service as traceability
from services.stamps.traceability.service import Sighting
from shared import clock
from shared.pagination import KeysetPage, decode_cursor
from shared.security.dependencies import Forbidden, require_authenticated
from shared.security.principal import Principal
from shared.security.scopes import Place

ANOMALY_DETECTED = "stamps.stamp.anomaly_detected"
# Rules about the scanner or the place rather than one stamp: reviewed where the scan was, not shown
# to the producer.
PLACE_RULES = frozenset({"R1", "R10"})
# Scans evaluated between two turns of the event loop (each a few tens of microseconds).
YIELD_EVERY = 50
SUSPENSION = "R5: impossible travel between scans, repeated (suspended automatically pending review)"
# The detector's row in anomaly_detector_state.
DETECTOR = "detector"


def windows(settings: AnomalySettings) -> dict[str, timedelta]:
    """How long an open anomaly of each rule covers later firings on the same subject (no repeat within it)."""
    hours = {
        "R1": settings.unknown_cluster_window_h, "R5": settings.ip_window_h, "R6": 24.0, "R7": 24.0 * 30,
        "R8": 24.0 * 30, "R9": settings.after_sale_window_h, "R10": 1.0, "R11": settings.burst_window_h,
    }  # fmt: skip
    return {rule: timedelta(hours=h) for rule, h in hours.items()}


@dataclass
class DetectionRound:
    """What one round examined and raised; ``last_at`` is the newest scan time it read."""

    # The scans examined (id → time logged).
    examined: dict[int, datetime] = field(default_factory=dict)
    # The scans examined again for the location shared from their page (id → time it was shared).
    relocated: dict[int, datetime] = field(default_factory=dict)
    last_at: datetime | None = None
    full: bool = False
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    # Stamps whose impossible journeys reached the suspension threshold in this round, and how many of
    # them were active and are now suspended.
    to_suspend: list[str] = field(default_factory=list)
    suspended: int = 0


def scanner_limit(settings: AnomalySettings) -> int:
    """How many of one scanner's latest scans a round reads for R10: the round's own, and twice R10's thresholds.

    A scanner with more in the hour is over a threshold within what is read (its latest scans' counts are
    lower bounds that already fire), unless its latest scans repeat a few serials: then its distinct
    count may read lower than the hour's.
    """
    thresholds = max(settings.enumeration_unknown_per_h, settings.enumeration_distinct_per_h)
    return settings.round_limit + 2 * (thresholds + 1)


def _sliding(
    scans: Sequence[Scan],
    key: Callable[[Scan], Any],
    span: timedelta,
    *,
    before: Mapping[Any, int] | None = None,
) -> dict[int, tuple[int, int]]:
    """For each scan, over the scans of its key within ``span`` up to it (itself included, ``scans`` in time
    order): how many were of unknown serials, and how many distinct serials (plus ``before``'s count for the
    key: serials within every scan's span that were counted, not read). Linear: one pass per key."""
    groups: dict[Any, list[Scan]] = defaultdict(list)
    for scan in scans:
        if (k := key(scan)) is not None:
            groups[k].append(scan)
    counts: dict[int, tuple[int, int]] = {}
    for group in groups.values():
        serials: Counter[str] = Counter()
        unknown = start = 0
        for scan in group:
            if scan.serial is not None:
                serials[scan.serial] += 1
            unknown += scan.verdict == "unknown"
            while group[start].scanned_at <= scan.scanned_at - span:
                leaving = group[start]
                if leaving.serial is not None:
                    serials[leaving.serial] -= 1
                    if not serials[leaving.serial]:
                        del serials[leaving.serial]
                unknown -= leaving.verdict == "unknown"
                start += 1
            counts[scan.id] = (unknown, len(serials))
    if before:
        # Added to every scan of the key, left-edge ones too: their counts are never looked up (the rules read
        # only the round's own scans, which the counted middle precedes).
        for k, group in groups.items():
            if extra := before.get(k, 0):
                for scan in group:
                    unknown, distinct = counts[scan.id]
                    counts[scan.id] = (unknown, distinct + extra)
    return counts


@dataclass(frozen=True)
class BurstReads:
    """Which first scans R11 reads as rows, and which it only counts per place, for one round."""

    rows: tuple[tuple[datetime, datetime], ...]
    counted: tuple[datetime, datetime] | None


def burst_reads(first: datetime, last: datetime, window: timedelta) -> BurstReads:
    """R11's reads, as (after, until] ranges, for a round whose scans lie in [first, last].

    Every such scan's window (t - window, t] holds all of (last - window, first): those first scans are
    counted per batch and place, not read; only the edges are rows (the ones leaving the window during the
    round, and the round's own). A round spanning the whole window reads it all.
    """
    settled = last - window
    # Times are in microseconds: (…, cut] ends just before the round's first scan, which must be a row.
    cut = first - timedelta(microseconds=1)
    if settled >= cut:
        return BurstReads(((first - window, last),), None)
    edges = ((first - window, settled), (cut, last))
    return BurstReads(tuple(edge for edge in edges if edge[0] < edge[1]), (settled, cut))


async def _first_scans_by_place(
    repository: AnomalyRepository, batch_ids: Sequence[uuid.UUID], *, first: datetime, last: datetime,
    window: timedelta,
) -> dict[int, tuple[int, int]]:  # fmt: skip
    """For each first scan of the round, with a place: its batch's first scans there within ``window`` up to it.

    A batch first-scanned all hour would otherwise cost every round the hour's first scans as rows.
    """
    reads = burst_reads(first, last, window)
    firsts = [
        scan
        for after, until in reads.rows
        for scan in await repository.first_scans(batch_ids=batch_ids, after=after, until=until)
    ]
    before: Counter[Any] = Counter()
    if reads.counted is not None:
        counts, unplaced = await repository.first_scan_counts(
            batch_ids=batch_ids, after=reads.counted[0], until=reads.counted[1]
        )
        before.update(counts)
        placed = {
            (scan.batch_id, place, scan.serial) for scan in unplaced if (place := scan.province) is not None
        }
        before.update((batch_id, place) for batch_id, place, _ in placed)
    return _sliding(firsts, lambda s: (s.batch_id, s.province) if s.province else None, window, before=before)


def _hour(counts: dict[int, tuple[int, int]], scan: Scan) -> ScannerHour | None:
    found = counts.get(scan.id)
    return ScannerHour(*found) if found is not None else None


def _covers(
    raised_at: datetime, resolved_at: datetime | None, scanned_at: datetime, window: timedelta
) -> bool:
    """Whether an anomaly raised on a scan at ``raised_at`` covers a firing on a scan at ``scanned_at``: it was
    open then (not yet resolved) and the scan lies within the rule's window after it. The same scan is
    covered too, so examining a scan again (a restart, the overlap) raises nothing twice."""
    if resolved_at is not None and resolved_at <= scanned_at:
        return False
    return timedelta(0) <= scanned_at - raised_at <= window


def _before(history: Sequence[Scan], scan: Scan, limit: int) -> list[Scan]:
    earlier = [s for s in history if (s.scanned_at, s.id) < (scan.scanned_at, scan.id)]
    return earlier[-limit:]


# The EPCIS steps the rules read (R8, R11: where the stamp or its lot was received; R9: where it was sold).
CHAIN_STEPS = ("receiving", "retail_selling")


def _chain(seen: Sequence[Sighting], scan: Scan) -> dict[str, Any]:
    """What the stamp's EPCIS chain up to the scan tells the rules (Context fields)."""
    before = [x for x in seen if x.at <= scan.scanned_at]
    received = [x for x in before if x.biz_step == "receiving"]
    sales = [
        x for x in before
        if x.biz_step == "retail_selling" and not x.of_lot and x.latitude is not None and x.longitude is not None
    ]  # fmt: skip
    sale = None
    if sales and sales[-1].latitude is not None and sales[-1].longitude is not None:
        sale = RetailSale(sales[-1].at, sales[-1].latitude, sales[-1].longitude)
    return {
        "received_in": frozenset(x.province_code for x in received),
        "received_by_shops_in": frozenset(x.province_code for x in received if x.kind == "shop"),
        "retail_sale": sale,
    }


def _known(item: NewScan) -> bool:
    return item.scan.serial is not None and item.scan.verdict in rules.KNOWN_VERDICTS


async def detect(
    session: AsyncSession,
    *,
    after: datetime,
    until: datetime,
    skip: Sequence[examined_scans.Run],
    relocated: Collection[int] = (),
    settings: AnomalySettings,
) -> DetectionRound:
    """Examine the scans logged in (after, until] (those in ``skip`` were examined already): raise anomalies,
    update the stamps' risk and emit ``stamps.stamp.anomaly_detected``, in the caller's transaction."""
    repository = AnomalyRepository(session)
    logged = await repository.new_scans(
        after=after, until=until, skip=skip, relocated=sorted(relocated), limit=settings.round_limit
    )
    result = DetectionRound(
        # Malformed scans count as examined too: left out, each would split the runs of examined ids.
        examined={item.scan.id: item.scan.scanned_at for item in logged},
        full=len(logged) >= settings.round_limit,
        relocated={
            item.scan.id: item.located_at
            for item in logged
            if item.located_at is not None and after < item.located_at <= until
        },
        last_at=logged[-1].scan.scanned_at if logged else None,
    )  # fmt: skip
    new = [item for item in logged if item.scan.verdict != "malformed"]
    if not new:
        return result
    first, last = new[0].scan.scanned_at, new[-1].scan.scanned_at
    in_round = Counter(item.scan.serial for item in new if _known(item))
    histories = await repository.histories(
        {serial: settings.history + n for serial, n in in_round.items() if serial is not None}, until=last
    )
    hour = timedelta(hours=1)
    scanners = await repository.scanner_scans(
        ip_hashes=sorted({i.scan.ip_hash for i in new if i.scan.ip_hash}),
        device_hashes=sorted({i.scan.device_hash for i in new if i.scan.device_hash}),
        after=first - hour, until=last, per_scanner=scanner_limit(settings),
    )  # fmt: skip
    cluster_window = timedelta(hours=settings.unknown_cluster_window_h)
    unknown_provinces = sorted({p for i in new if i.scan.verdict == "unknown" and (p := i.scan.province)})
    unknown = await repository.unknown_scans(
        provinces=unknown_provinces, after=first - cluster_window, until=last
    )
    burst_window = timedelta(hours=settings.burst_window_h)
    batches = sorted({i.scan.batch_id for i in new if i.scan.batch_id is not None})
    # R11 counts a place's first scans, so only a batch with a placed scan in the round can fire it.
    placed = sorted(
        {i.scan.batch_id for i in new if i.scan.batch_id is not None and i.scan.province is not None}
    )
    out_of_region = await repository.out_of_region_serials(batches)
    chains = await traceability.sightings(
        session, stamps={(i.scan.serial, i.gtin, i.lot) for i in new if _known(i) and i.scan.serial and i.gtin},
        biz_steps=CHAIN_STEPS, until=last,
    )  # fmt: skip
    covers = windows(settings)
    raised = await repository.raised(
        serials=sorted(serial for serial in in_round if serial is not None),
        serials_after=first - max(covers[rule] for rule in rules.STAMP_RULES),
        other_rules=rules.OTHER_SUBJECTS,
        others_after=first - max(covers[rule] for rule in rules.OTHER_SUBJECTS),
    )

    by_ip = _sliding(scanners, lambda s: s.ip_hash, hour)
    by_device = _sliding(scanners, lambda s: s.device_hash, hour)
    by_province = _sliding(unknown, lambda s: s.province, cluster_window)
    by_place = await _first_scans_by_place(repository, placed, first=first, last=last, window=burst_window)
    evaluations: dict[str, tuple[NewScan, Evaluation]] = {}
    for index, item in enumerate(new):
        if index % YIELD_EVERY == YIELD_EVERY - 1:
            # The rules are pure Python on the service's event loop: let verifications in between.
            await asyncio.sleep(0)
        scan = item.scan
        context = Context(
            home_province=item.home_province,
            out_of_region_in_lot=out_of_region.get(scan.batch_id, 0) if scan.batch_id else 0,
            ip_hour=_hour(by_ip, scan), device_hour=_hour(by_device, scan),
            unknown_serials_here=by_province.get(scan.id, (0, 0))[1],
            batch_quantity=item.batch_quantity, first_scans_here=by_place.get(scan.id, (0, 0))[1],
            **_chain(chains.get(scan.serial or "", ()) if _known(item) else (), scan),
        )  # fmt: skip
        history = (
            _before(histories.get(scan.serial or "", []), scan, settings.history) if _known(item) else []
        )
        evaluation = rules.evaluate(scan, history, context, settings)
        for finding in evaluation.findings:
            earlier = raised.setdefault((finding.rule, finding.key), [])
            if any(_covers(at, resolved, scan.scanned_at, covers[finding.rule]) for at, resolved in earlier):
                continue
            earlier.append((scan.scanned_at, None))
            if finding.rule == "R8" and scan.batch_id is not None:
                out_of_region[scan.batch_id] = out_of_region.get(scan.batch_id, 0) + 1
            result.anomalies.append(_anomaly(item, finding, evaluation))
        if _known(item) and scan.serial is not None:
            evaluations[scan.serial] = (item, evaluation)

    stored = await repository.impossible_travels(evaluations)
    threshold = settings.suspend_after_travels
    result.to_suspend = sorted(
        serial for serial, (_, e) in evaluations.items()
        if e.impossible_travels >= threshold and stored.get(serial, 0) < threshold
    )  # fmt: skip
    await repository.save_risks([
        {"serial": serial, "risk_score": e.risk, "rules": list(e.stamp_rules), "impossible_travel": e.impossible_travels}
        for serial, (_, e) in sorted(evaluations.items())
    ])  # fmt: skip
    await repository.add_anomalies(result.anomalies)
    # TRACEABILITY §4.6: the one automatic change besides R3. Only when the count first reaches the
    # threshold: a suspension an officer lifted is not imposed again by the same history.
    result.suspended = await lifecycle.suspend_automatically(
        session, serials=result.to_suspend, reason=SUSPENSION
    )
    await OUTBOX.emit_many(
        session,
        [OUTBOX.envelope(type=ANOMALY_DETECTED, subject=f"anomaly/{row['id']}", data=event_data(row))
         for row in result.anomalies],
    )  # fmt: skip
    return result


async def detection_round(
    session: AsyncSession, *, settings: AnomalySettings, start: datetime | None = None
) -> DetectionRound:
    """One round from the stored watermark, which it advances in the same transaction as its anomalies.

    The state row is locked for the round, so detectors in two processes take turns. Without a stored
    state the detector starts at ``start`` (default: ``lookback_h`` ago). Each round reads again
    ``overlap_s`` behind the watermark (scans commit after their time is taken) and skips the scans it
    examined there, which the state keeps with it; a full round stops at its newest scan.
    """
    now = clock.now()
    repository = AnomalyRepository(session)
    state = await repository.lock_state(DETECTOR, start=start or now - timedelta(hours=settings.lookback_h))
    examined = examined_scans.parse(state.examined)
    relocated = _scan_times(state.relocated)
    overlap = timedelta(seconds=settings.overlap_s)
    until = now - timedelta(seconds=settings.settle_s)
    found = await detect(
        session, after=state.watermark - overlap, until=until, skip=examined, relocated=relocated.keys(),
        settings=settings,
    )  # fmt: skip
    reached = found.last_at if found.full and found.last_at is not None else until
    state.watermark = max(state.watermark, reached)
    horizon = state.watermark - overlap
    state.examined = examined_scans.stored(
        examined_scans.within(examined_scans.with_examined(examined, found.examined), horizon)
    )
    state.relocated = _stored_scan_times(relocated | found.relocated, horizon)
    state.updated_at = now
    await repository.save_state(state)
    return found


def _scan_times(stored: dict[str, str] | None) -> dict[int, datetime]:
    return {int(i): datetime.fromisoformat(at) for i, at in (stored or {}).items()}


def _stored_scan_times(times: dict[int, datetime], horizon: datetime) -> dict[str, str]:
    # Only the overlap's: older ones are behind the watermark and never read again.
    return {str(i): at.isoformat() for i, at in sorted(times.items()) if at >= horizon}


def _anomaly(item: NewScan, finding: Finding, evaluation: Evaluation) -> dict[str, Any]:
    scan = item.scan
    about_place = finding.rule in PLACE_RULES
    return {
        "id": uuid.uuid4(), "rule": finding.rule, "score": finding.score, "serial": scan.serial,
        "batch_id": None if about_place else scan.batch_id,
        "product_id": None if about_place else item.product_id,
        "entity_id": None if about_place else item.entity_id,
        "province_code": scan.province if about_place or item.home_province is None else item.home_province,
        "scan_id": scan.id, "scanned_at": scan.scanned_at,
        "detail": {**finding.detail, "key": finding.key, "scan_province": scan.province,
                   "stamp_risk": evaluation.risk if not about_place else None},
    }  # fmt: skip


def event_data(row: dict[str, Any]) -> dict[str, Any]:
    """The ``stamps.stamp.anomaly_detected`` data of a new anomaly row (docs/EVENTS.md)."""

    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    return {
        "anomaly_id": str(row["id"]), "rule": row["rule"], "score": row["score"], "serial": row["serial"],
        "batch_id": text(row["batch_id"]), "product_id": text(row["product_id"]),
        "entity_id": text(row["entity_id"]), "province_code": row["province_code"],
        "scan_province_code": row["detail"]["scan_province"], "scan_id": row["scan_id"],
        "scanned_at": row["scanned_at"].isoformat(), "stamp_risk": row["detail"]["stamp_risk"],
        "detail": {k: v for k, v in row["detail"].items() if k not in ("scan_province", "stamp_risk")},
    }  # fmt: skip


def _place(anomaly: Anomaly) -> Place:
    return Place(anomaly.entity_id, None, anomaly.province_code)


async def list_anomalies(
    session: AsyncSession, *, principal: Principal, where: AnomalyFilter, limit: int, cursor: str | None
) -> KeysetPage[Anomaly]:
    """The anomalies the caller may see (an officer its province's, a producer its own), newest first."""
    require_authenticated(principal)
    return await AnomalyRepository(session).list(
        policies.visibility(principal), where, after=decode_cursor(cursor, datetime, uuid.UUID), limit=limit
    )


async def get_anomaly(session: AsyncSession, *, principal: Principal, anomaly_id: uuid.UUID) -> Anomaly:
    """One anomaly the caller may see; otherwise AnomalyNotFound (no hint that it exists)."""
    require_authenticated(principal)
    anomaly = await AnomalyRepository(session).get(anomaly_id)
    if anomaly is None or not policies.can_read(principal, _place(anomaly)):
        raise AnomalyNotFound(f"No anomaly {anomaly_id}")
    return anomaly


async def resolve_anomaly(
    session: AsyncSession, *, principal: Principal, anomaly_id: uuid.UUID, note: str
) -> Anomaly:
    """Close an open anomaly with the reviewer's note: an officer of its province, or an admin."""
    require_authenticated(principal)
    repository = AnomalyRepository(session)
    anomaly = await repository.get_for_update(anomaly_id)
    if anomaly is None or not policies.can_read(principal, _place(anomaly)):
        raise AnomalyNotFound(f"No anomaly {anomaly_id}")
    if not policies.can_resolve_anomaly(principal, _place(anomaly)):
        raise Forbidden("An anomaly is resolved by an officer of its province.")
    if anomaly.status != "open":
        raise AnomalyAlreadyResolved(
            f"Anomaly {anomaly_id} was resolved by {anomaly.resolved_by}", current_status=anomaly.status
        )
    anomaly.status, anomaly.resolved_by, anomaly.resolved_at = "resolved", principal.sub, clock.now()
    anomaly.resolution_note = note
    return await repository.save(anomaly)
