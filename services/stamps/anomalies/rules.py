"""The counterfeit rules over scan histories (TRACEABILITY §4.6): pure functions of scans and settings.

Each rule looks at one new scan, the stamp's scans before it (its last N, oldest first) and the context
the detector gathered for the whole round (the same IP's and device's last hour, the province's unknown
serials, the batch's first scans), and says whether it fires, with a score and the figures that made
it fire. Nothing here reads the database or the clock. The synchronous rules (R0–R4, R12) live in
``verification/verdicts.py``; their scores and the risk arithmetic are shared from there.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.stamps.anomalies import geography
from services.stamps.config import AnomalySettings
from services.stamps.verification.verdicts import RULE_SCORES, risk_of

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
MONTH = timedelta(days=30)
# Rules about the stamp itself: they make up the risk the next verification of the serial shows.
STAMP_RULES = frozenset({"R5", "R6", "R7", "R8", "R9"})
# Rules whose subject is not one serial: a province (R1), a scanner (R10), a batch in one place (R11).
OTHER_SUBJECTS = frozenset({"R1", "R10", "R11"})
# §4.6's raised severities: R6 past ``devices_high`` devices is high, R8 over a whole lot is medium.
R6_HIGH = 70
R8_LOT = 50


@dataclass(frozen=True, slots=True)
class Scan:
    """One row of the scan log, as the rules see it."""

    id: int
    scanned_at: datetime
    serial: str | None = None
    verdict: str = "genuine"
    batch_id: uuid.UUID | None = None
    device_hash: bytes | None = None
    ip_hash: bytes | None = None
    latitude: float | None = None
    longitude: float | None = None
    accuracy_m: float | None = None
    province_code: str | None = None

    @property
    def province(self) -> str | None:
        """Where the scan was: its IP's province, else the province of its GPS fix (approximate)."""
        if self.province_code is not None:
            return self.province_code
        if self.latitude is not None and self.longitude is not None:
            return geography.province_at(self.latitude, self.longitude)
        return None


@dataclass(frozen=True, slots=True)
class RetailSale:
    """A retail ``retail_selling`` event of the serial (EPCIS, issue 11): where and when it was sold."""

    sold_at: datetime
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class ScannerHour:
    """What one IP or device scanned within an hour: scans of unknown serials, and distinct serials."""

    unknown: int
    distinct: int


def hour_of(scans: Sequence[Scan]) -> ScannerHour:
    """The counts R10 looks at, of one scanner's scans within an hour."""
    return ScannerHour(
        sum(1 for s in scans if s.verdict == "unknown"),
        len({s.serial for s in scans if s.serial is not None}),
    )


@dataclass(frozen=True, slots=True)
class Context:
    """What the detector knows around one scan besides the stamp's own history."""

    # The stamp's home: its batch's (the product's) province; None for an unknown serial.
    home_province: str | None = None
    # Other serials of the same batch already flagged out of region (R8).
    out_of_region_in_lot: int = 0
    # Provinces where EPCIS ``receiving`` events at registered sites received the stamp or its lot before
    # this scan (R8: there, and next to there, the product is in region).
    received_in: frozenset[str] = frozenset()
    # Of those, the provinces where a registered shop received it (R11: a shop opening a box is no burst).
    received_by_shops_in: frozenset[str] = frozenset()
    # The serial's latest EPCIS ``retail_selling`` at a registered site with a position, before this scan (R9).
    retail_sale: RetailSale | None = None
    # What the same IP hash and the same device hash scanned in the hour up to this scan (R10).
    ip_hour: ScannerHour | None = None
    device_hour: ScannerHour | None = None
    # Distinct unknown serials scanned in the scan's province within the window up to it, its own
    # included (R1 cluster).
    unknown_serials_here: int = 0
    # The batch's size, and how many of its serials were first scanned in this scan's province within
    # the window up to this scan, this one included (R11).
    batch_quantity: int | None = None
    first_scans_here: int = 0


@dataclass(frozen=True, slots=True)
class Case:
    """What a rule looks at: the new scan, the stamp's scans before it (oldest first) and the context."""

    scan: Scan
    history: tuple[Scan, ...]
    context: Context


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule fired on one scan: its score, what it is about (``key``) and the figures behind it."""

    rule: str
    score: int
    key: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Every rule fired on a scan, the stamp's risk after it and its count of impossible journeys."""

    findings: tuple[Finding, ...]
    risk: int
    stamp_rules: tuple[str, ...]
    impossible_travels: int


@dataclass(frozen=True, slots=True)
class Place:
    """Where a scan was, as a point with an uncertainty radius; ``precise`` for a GPS fix."""

    latitude: float
    longitude: float
    accuracy_km: float
    precise: bool


def place_of(scan: Scan, settings: AnomalySettings) -> Place | None:
    """The scan's GPS fix, else its province's centroid with a province-level uncertainty, else None."""
    if scan.latitude is not None and scan.longitude is not None:
        accuracy_m = scan.accuracy_m if scan.accuracy_m is not None else settings.gps_default_accuracy_m
        return Place(scan.latitude, scan.longitude, accuracy_m / 1000, True)
    centre = geography.centroid(scan.province_code) if scan.province_code else None
    if centre is None:
        return None
    return Place(centre[0], centre[1], settings.province_accuracy_km, False)


def _hours(earlier: datetime, later: datetime) -> float:
    return abs((later - earlier).total_seconds()) / 3600


def journey(a: Scan, b: Scan, settings: AnomalySettings) -> dict[str, Any] | None:
    """The journey from scan ``a`` to scan ``b`` if no one could have made it, else None (R5).

    Impossible when the distance less both uncertainties exceeds v_max · Δt, v_max being road speed
    under ``road_window_h`` and air speed beyond. When either place is only a province (IP
    geolocation), its uncertainty is at least province level and the two must also lie at least
    ``ip_min_distance_km`` apart within ``ip_window_h``.
    """
    pa, pb = place_of(a, settings), place_of(b, settings)
    if pa is None or pb is None:
        return None
    hours = _hours(a.scanned_at, b.scanned_at)
    distance = geography.haversine_km(pa.latitude, pa.longitude, pb.latitude, pb.longitude)
    precise = pa.precise and pb.precise
    slack = pa.accuracy_km + pb.accuracy_km
    if not precise:
        slack = max(pa.accuracy_km, settings.province_accuracy_km) + max(
            pb.accuracy_km, settings.province_accuracy_km
        )
        if hours > settings.ip_window_h or distance < settings.ip_min_distance_km:
            return None
    speed = settings.road_kmh if hours < settings.road_window_h else settings.air_kmh
    if distance - slack <= speed * hours:
        return None
    return {
        "from_scan_id": a.id, "to_scan_id": b.id, "distance_km": round(distance, 1), "hours": round(hours, 3),
        "max_speed_kmh": speed, "from_province": a.province, "to_province": b.province,
        "precision": "gps" if precise else "province",
    }  # fmt: skip


def impossible_journeys(scans: Sequence[Scan], settings: AnomalySettings) -> list[dict[str, Any]]:
    """Every impossible journey between consecutive located scans of ``scans`` (oldest first)."""
    located = [scan for scan in scans if place_of(scan, settings) is not None]
    found = (journey(a, b, settings) for a, b in itertools.pairwise(located))
    return [detail for detail in found if detail is not None]


def _serial_key(scan: Scan) -> str:
    return f"serial:{scan.serial}"


def impossible_travel(case: Case, settings: AnomalySettings) -> Finding | None:
    """R5: the stamp was here and, too soon after, far away (a probable clone)."""
    previous = next(
        (earlier for earlier in reversed(case.history) if place_of(earlier, settings) is not None), None
    )
    detail = journey(previous, case.scan, settings) if previous is not None else None
    if detail is None:
        return None
    return Finding("R5", RULE_SCORES["R5"], _serial_key(case.scan), detail)


def distinct_devices(case: Case, settings: AnomalySettings) -> Finding | None:
    """R6: more distinct devices than one household scans (> 5 in 30 days or > 3 in 24 hours)."""
    scans = [*case.history, case.scan]
    month = {s.device_hash for s in scans if s.device_hash and case.scan.scanned_at - s.scanned_at <= MONTH}
    day = {s.device_hash for s in scans if s.device_hash and case.scan.scanned_at - s.scanned_at <= DAY}
    if len(month) <= settings.devices_30d and len(day) <= settings.devices_24h:
        return None
    score = R6_HIGH if len(month) > settings.devices_high else RULE_SCORES["R6"]
    return Finding("R6", score, _serial_key(case.scan), {"devices_30d": len(month), "devices_24h": len(day)})


def excessive_scans(case: Case, settings: AnomalySettings) -> Finding | None:
    """R7: scanned more often than a product is (> 20 in 30 days, or > 50 in all: the case.history holds the last 50)."""
    month = 1 + sum(1 for s in case.history if case.scan.scanned_at - s.scanned_at <= MONTH)
    seen = 1 + len(case.history)
    if month <= settings.scans_30d and seen <= settings.scans_lifetime:
        return None
    return Finding("R7", RULE_SCORES["R7"], _serial_key(case.scan), {"scans_30d": month, "scans_seen": seen})


def out_of_region(case: Case, settings: AnomalySettings) -> Finding | None:
    """R8: scanned outside the product's province, the provinces EPCIS receiving events took it (or its lot)
    to, and their neighbours."""
    where, home = case.scan.province, case.context.home_province
    if where is None or home is None:
        return None
    for region in (home, *sorted(case.context.received_in)):
        if where == region or where in geography.neighbours(region):
            return None
    in_lot = case.context.out_of_region_in_lot + 1
    score = R8_LOT if in_lot >= settings.out_of_region_lot else RULE_SCORES["R8"]
    return Finding(
        "R8",
        score,
        _serial_key(case.scan),
        {"province": where, "home_province": home, "serials_in_lot": in_lot},
    )


def after_sale_far_away(case: Case, settings: AnomalySettings) -> Finding | None:
    """R9: scanned far from the shop soon after its retail sale (the serial's EPCIS retail_selling event)."""
    sale, here = case.context.retail_sale, place_of(case.scan, settings)
    if sale is None or here is None:
        return None
    elapsed = case.scan.scanned_at - sale.sold_at
    if elapsed < timedelta(0) or elapsed > timedelta(hours=settings.after_sale_window_h):
        return None
    distance = geography.haversine_km(sale.latitude, sale.longitude, here.latitude, here.longitude)
    if distance <= settings.after_sale_km:
        return None
    return Finding("R9", RULE_SCORES["R9"], _serial_key(case.scan),
                   {"distance_km": round(distance, 1), "hours_after_sale": round(elapsed.total_seconds() / 3600, 3)})  # fmt: skip


def enumeration(case: Case, settings: AnomalySettings) -> Finding | None:
    """R10: one IP or device walks through serials (> 20 unknown or > 100 distinct in an hour)."""
    scan, context = case.scan, case.context
    for kind, value, hour in (("ip", scan.ip_hash, context.ip_hour), ("device", scan.device_hash, context.device_hour)):  # fmt: skip
        if value is None or hour is None:
            continue
        if (
            hour.unknown > settings.enumeration_unknown_per_h
            or hour.distinct > settings.enumeration_distinct_per_h
        ):
            detail = {"by": kind, "unknown_per_h": hour.unknown, "distinct_per_h": hour.distinct}
            return Finding("R10", RULE_SCORES["R10"], f"{kind}:{value.hex()}", detail)
    return None


def batch_burst(case: Case, settings: AnomalySettings) -> Finding | None:
    """R11: a large share of a batch first-scanned within the hour in one place (a stolen roll, a print leak),
    unless EPCIS receiving events put it (or its lot) in a registered shop of that province."""
    scan, quantity, here = case.scan, case.context.batch_quantity, case.context.first_scans_here
    if case.history or scan.province is None or not quantity or scan.batch_id is None:
        return None
    if scan.province in case.context.received_by_shops_in:  # a registered shop there received it
        return None
    if here < settings.burst_min_scans or here <= settings.burst_share * quantity:
        return None
    return Finding("R11", RULE_SCORES["R11"], f"batch:{scan.batch_id}:{scan.province}",
                   {"first_scans": here, "batch_quantity": quantity, "province": scan.province})  # fmt: skip


def unknown_cluster(case: Case, settings: AnomalySettings) -> Finding | None:
    """R1 cluster: several never-issued serials scanned in one province within a day (fakes on sale there)."""
    where, count = case.scan.province, case.context.unknown_serials_here
    if case.scan.verdict != "unknown" or where is None or count < settings.unknown_cluster:
        return None
    return Finding(
        "R1", RULE_SCORES["R1"], f"province:{where}", {"unknown_serials": count, "province": where}
    )


Rule = Callable[[Case, AnomalySettings], Finding | None]
# Which rules look at which scans: a known stamp's scan, an unknown serial's, and any scan's scanner.
KNOWN_RULES: tuple[Rule, ...] = (impossible_travel, distinct_devices, excessive_scans, out_of_region, after_sale_far_away, batch_burst)  # fmt: skip
UNKNOWN_RULES: tuple[Rule, ...] = (unknown_cluster,)
SCANNER_RULES: tuple[Rule, ...] = (enumeration,)
KNOWN_VERDICTS = frozenset({"genuine", "caution", "suspected", "revoked", "not_activated"})


def evaluate(scan: Scan, history: Sequence[Scan], context: Context, settings: AnomalySettings) -> Evaluation:
    """Every rule on ``scan`` given the stamp's earlier scans (oldest first, the last N) and the context."""
    history = list(history)[-settings.history :]
    rules: tuple[Rule, ...] = SCANNER_RULES
    if scan.serial is not None and scan.verdict in KNOWN_VERDICTS:
        rules = KNOWN_RULES + SCANNER_RULES
    elif scan.verdict == "unknown":
        rules = UNKNOWN_RULES + SCANNER_RULES
    case = Case(scan, tuple(history), context)
    findings = tuple(found for rule in rules if (found := rule(case, settings)) is not None)
    travels = len(impossible_journeys([*history, scan], settings)) if scan.verdict in KNOWN_VERDICTS else 0
    scores = {f.rule: f.score for f in findings if f.rule in STAMP_RULES}
    if travels and "R5" not in scores:
        scores["R5"] = RULE_SCORES["R5"]  # an impossible journey in the history keeps counting
    risk = risk_of((), extra=scores.values())
    return Evaluation(findings, risk, tuple(sorted(scores, key=lambda r: int(r[1:]))), travels)
