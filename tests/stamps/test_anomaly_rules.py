"""The counterfeit rules over scan histories, as pure functions: crafted sequences that must and must not fire."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from services.stamps.anomalies import geography
from services.stamps.anomalies import repository as anomaly_reads
from services.stamps.anomalies.rules import Context, RetailSale, Scan, evaluate, hour_of, journey
from services.stamps.anomalies.service import _sliding, burst_reads
from services.stamps.config import AnomalySettings

SETTINGS = AnomalySettings()
T0 = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
BATCH = uuid.UUID("00000000-0000-0000-0000-00000000b001")
HA_NOI = (21.028, 105.854)
HO_CHI_MINH = (10.776, 106.700)
HA_LONG = (20.951, 107.080)
CAM_PHA = (21.012, 107.292)  # 23 km from Hạ Long
HOME = Context(home_province="22", batch_quantity=1_000)
_ids = iter(range(1, 1_000_000))


def at(minutes: float, *, where: tuple[float, float] | None = HA_LONG, province: str | None = None,
       device: bytes | None = b"phone-1", ip: bytes | None = b"ip-1", accuracy_m: float | None = 30,
       serial: str = "SERIAL0000000001AA", verdict: str = "genuine") -> Scan:  # fmt: skip
    """A scan ``minutes`` after T0, by GPS at ``where`` (None: IP geolocation only, in ``province``)."""
    latitude, longitude = where if where is not None else (None, None)
    return Scan(
        id=next(_ids), scanned_at=T0 + timedelta(minutes=minutes), serial=serial, verdict=verdict, batch_id=BATCH,
        device_hash=device, ip_hash=ip, latitude=latitude, longitude=longitude,
        accuracy_m=accuracy_m if where is not None else None, province_code=province,
    )  # fmt: skip


DAY = 24 * 60
H = 60


def fired(sequence: list[Scan], context: Context = HOME, settings: AnomalySettings = SETTINGS) -> set[str]:
    """The rules fired by the last scan of ``sequence`` on the ones before it."""
    *history, scan = sequence
    return {finding.rule for finding in evaluate(scan, history, context, settings).findings}


# (name, sequence of scans, rules expected on the last one)
CASES: list[tuple[str, list[Scan], set[str]]] = [
    ("same device twice in the same shop", [at(0), at(5)], set()),
    ("same device a week later at home", [at(0), at(7 * DAY, where=CAM_PHA)], set()),
    ("clone: Hà Nội then TP.HCM within the hour", [at(0, where=HA_NOI), at(50, where=HO_CHI_MINH, device=b"x")], {"R5", "R8"}),
    ("clone by IP only: Hà Nội then TP.HCM two hours later",
     [at(0, where=None, province="01"), at(2 * H, where=None, province="79", device=b"x")], {"R5", "R8"}),
    ("Hà Nội then TP.HCM eight hours later: a flight", [at(0, where=HA_NOI), at(8 * H, where=HO_CHI_MINH)], {"R8"}),
    ("Hà Nội then TP.HCM five hours later: no road is that fast", [at(0, where=HA_NOI), at(5 * H, where=HO_CHI_MINH)], {"R5", "R8"}),
    ("IP-only neighbours ten minutes apart: province-level noise",
     [at(0, where=None, province="22"), at(10, where=None, province="24")], set()),
    ("IP-only Hà Nội then TP.HCM 30 hours later", [at(0, where=None, province="01"), at(30 * H, where=None, province="79")], {"R8"}),
    ("GPS fixes within their accuracy", [at(0, where=HA_LONG, accuracy_m=15_000), at(5, where=CAM_PHA, accuracy_m=15_000)], set()),
    ("GPS fixes 23 km apart in 5 minutes, precise", [at(0, where=HA_LONG), at(5, where=CAM_PHA)], {"R5"}),
    ("a family of 4 devices over a week", [at(0), at(DAY, device=b"p2"), at(2 * DAY, device=b"p3"), at(3 * DAY, device=b"p4"),
                                            at(4 * DAY)], set()),
    ("3 devices within 24 h", [at(0), at(H, device=b"p2"), at(2 * H, device=b"p3")], set()),
    ("4 devices within 24 h", [at(0), at(H, device=b"p2"), at(2 * H, device=b"p3"), at(3 * H, device=b"p4")], {"R6"}),
    ("6 devices in 30 days", [at(i * 2 * DAY, device=f"p{i}".encode()) for i in range(6)], {"R6"}),
    ("5 devices in 30 days", [at(i * 2 * DAY, device=f"p{i}".encode()) for i in range(5)], set()),
    ("shop staff: one device scans the stamp 3 times, then the buyer", [at(0, device=b"shop"), at(2, device=b"shop"),
                                                                         at(4, device=b"shop"), at(30, device=b"buyer")], set()),
    ("20 scans in 30 days", [at(i * H * 30) for i in range(20)], set()),
    ("21 scans in 30 days", [at(i * H * 30) for i in range(21)], {"R7"}),
    ("51 scans over a year", [at(i * 7 * DAY) for i in range(51)], {"R7"}),
    ("scanned in the home province's neighbour (Bắc Ninh)", [at(0, where=None, province="24")], set()),
    ("scanned far away (Cần Thơ), located by IP", [at(0, where=None, province="92")], {"R8"}),
    ("scanned far away, located by GPS only", [at(0, where=HO_CHI_MINH)], {"R8"}),
]  # fmt: skip


@pytest.mark.parametrize(("sequence", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_rule_fires_on_its_sequence_and_only_then(sequence: list[Scan], expected: set[str]) -> None:
    assert fired(sequence) == expected


def test_the_figures_behind_a_clone_and_the_risk_it_gives() -> None:
    evaluation = evaluate(
        at(50, where=HO_CHI_MINH), [at(0, where=HA_NOI)], Context(home_province="01"), SETTINGS
    )
    [travel, region] = evaluation.findings
    assert (travel.rule, travel.score, travel.key) == ("R5", 75, "serial:SERIAL0000000001AA")
    assert travel.detail["distance_km"] == pytest.approx(1143.5, abs=0.5)
    assert (travel.detail["max_speed_kmh"], travel.detail["precision"], travel.detail["to_province"]) == (
        120,
        "gps",
        "79",
    )
    assert (region.rule, region.score, region.detail["province"]) == ("R8", 30, "79")
    assert (evaluation.risk, evaluation.stamp_rules, evaluation.impossible_travels) == (75, ("R5", "R8"), 1)


def test_an_earlier_impossible_journey_keeps_counting_and_a_second_one_is_counted() -> None:
    history = [at(0, where=HA_NOI), at(30, where=HO_CHI_MINH)]
    calm = evaluate(at(DAY, where=HO_CHI_MINH), history, Context(home_province="79"), SETTINGS)
    assert (calm.findings, calm.risk, calm.stamp_rules, calm.impossible_travels) == ((), 75, ("R5",), 1)
    again = evaluate(
        at(DAY + 30, where=HA_NOI),
        [*history, at(DAY, where=HO_CHI_MINH)],
        Context(home_province="79"),
        SETTINGS,
    )
    assert [f.rule for f in again.findings] == ["R5", "R8"]
    assert again.impossible_travels == 2


def test_risk_is_the_highest_score_plus_ten_per_further_high_rule() -> None:
    devices = [at(i * 2 * DAY, device=f"p{i}".encode(), where=HA_NOI) for i in range(11)]
    evaluation = evaluate(at(20 * DAY + 30, device=b"p11", where=HO_CHI_MINH), devices, HOME, SETTINGS)
    scores = {f.rule: f.score for f in evaluation.findings}
    assert scores == {"R5": 75, "R6": 70, "R8": 30}  # > 10 devices: R6 is high
    assert evaluation.risk == 85


def test_out_of_region_is_medium_once_ten_serials_of_the_lot_are() -> None:
    [finding] = evaluate(
        at(0, where=None, province="92"), [], replace(HOME, out_of_region_in_lot=9), SETTINGS
    ).findings
    assert (finding.rule, finding.score, finding.detail["serials_in_lot"]) == ("R8", 50, 10)
    # Thresholds come from the settings.
    wider = AnomalySettings(out_of_region_lot=20)
    [finding] = evaluate(
        at(0, where=None, province="92"), [], replace(HOME, out_of_region_in_lot=9), wider
    ).findings
    assert finding.score == 30


SALE = RetailSale(T0, *HA_LONG)


@pytest.mark.parametrize(
    ("scan", "sale", "expected"),
    [
        (at(60, where=HA_NOI), SALE, {"R9"}),  # 150 km from the shop an hour after the sale
        (at(3 * H, where=HA_NOI), SALE, set()),  # three hours later: could have driven
        (at(60, where=CAM_PHA), SALE, set()),  # 23 km away
        (at(60, where=HA_NOI), None, set()),  # no sale known (no EPCIS source yet)
    ],
)
def test_r9_after_sale_far_away(scan: Scan, sale: RetailSale | None, expected: set[str]) -> None:
    context = Context(home_province="24", retail_sale=sale)  # Bắc Ninh borders Hà Nội and Quảng Ninh
    assert {f.rule for f in evaluate(scan, [], context, SETTINGS).findings} == expected


def _serials(n: int, **fields: Any) -> list[Scan]:
    return [at(i / 10, serial=f"S{i:017d}", **fields) for i in range(n)]


@pytest.mark.parametrize(
    ("ip_hour", "device_hour", "expected"),
    [
        (_serials(21, verdict="unknown"), (), {"R10"}),  # guessing serials from one IP
        (_serials(20, verdict="unknown"), (), set()),
        ((), _serials(101), {"R10"}),  # one phone walks through a hundred stamps
        ((), _serials(80, device=b"shop"), set()),  # shop staff checking a delivery
    ],
)
def test_r10_enumeration_from_one_ip_or_device(
    ip_hour: list[Scan], device_hour: list[Scan], expected: set[str]
) -> None:
    scan = at(7, device=b"shop")
    context = replace(
        HOME,
        ip_hour=hour_of(ip_hour) if ip_hour else None,
        device_hour=hour_of(device_hour) if device_hour else None,
    )
    findings = evaluate(scan, [], context, SETTINGS).findings
    assert {f.rule for f in findings} == expected
    if expected:
        assert findings[0].key == ("ip:" + b"ip-1".hex() if ip_hour else "device:" + b"shop".hex())


def test_r10_also_judges_the_scans_of_unknown_serials() -> None:
    scan = at(7, verdict="unknown", serial="UNKNOWN00000000000")
    findings = evaluate(
        scan, [], replace(HOME, ip_hour=hour_of(_serials(21, verdict="unknown"))), SETTINGS
    ).findings
    assert [f.rule for f in findings] == ["R10"]


@pytest.mark.parametrize(
    ("quantity", "earlier_first_scans", "history", "expected"),
    [
        (20, 6, [], {"R11"}),  # 7 of 20 first-scanned within the hour in one place
        (20, 5, [], set()),  # 6 of 20: 30 %, not more
        (100, 10, [], set()),
        (20, 6, [at(-10)], set()),  # not the serial's first scan
        (10, 3, [], set()),  # 4 of 10 is 40 %, but fewer than 5 first scans is no burst
    ],
)
def test_r11_batch_burst(
    quantity: int, earlier_first_scans: int, history: list[Scan], expected: set[str]
) -> None:
    context = replace(HOME, batch_quantity=quantity, first_scans_here=earlier_first_scans + 1)
    scan = at(30, where=None, province="22")
    found = evaluate(scan, history, context, SETTINGS).findings
    assert {f.rule for f in found} == expected
    if expected:
        assert (found[0].key, found[0].detail["first_scans"]) == (
            f"batch:{BATCH}:22",
            earlier_first_scans + 1,
        )


def test_the_detector_counts_within_a_sliding_window_per_key() -> None:
    """The counts the detector hands the rules: per key, over the span up to each scan, the scan included."""
    scans = [
        at(0, serial="A", where=None, province="22"), at(10, serial="B", where=None, province="01"),
        at(20, serial="A", where=None, province="22", verdict="unknown"), at(30, serial="C", where=None, province="22"),
        at(75, serial="D", where=None, province="22"), at(95, serial="E", where=None, province="22"),
    ]  # fmt: skip
    counts = _sliding(scans, lambda s: s.province, timedelta(hours=1))
    # At 75 min the scan at 0 has left the hour (A stays: scanned again at 20); at 95 min the ones at 20
    # and 30 have too.
    assert [counts[s.id] for s in scans] == [(0, 1), (0, 1), (1, 1), (1, 2), (1, 3), (0, 2)]
    assert _sliding(scans, lambda _: None, timedelta(hours=1)) == {}


def test_the_detectors_reads_name_the_scan_columns_in_the_order_of_scan_fields() -> None:
    """Rows become scans by position: the column lists must follow ``Scan``'s fields."""
    names = [field.name for field in dataclasses.fields(Scan)]
    assert [c.strip().removeprefix("s.") for c in anomaly_reads.SCAN_COLUMNS.split(",")] == names
    first = [c.strip().removeprefix("s.") for c in anomaly_reads.FIRST_SCAN_COLUMNS.split(",")]
    assert first == [name for name in names if name not in ("device_hash", "ip_hash")]


@given(
    st.lists(st.tuples(st.integers(0, 300), st.sampled_from(["22", "01"])), min_size=1, max_size=60),
    st.integers(0, 300), st.integers(0, 300), st.integers(1, 120),
)  # fmt: skip
# The edges exactly: a scan at last - window (out of every window), just after it, at the round's first
# instant, and the middle's both ends.
@example([(40, "22"), (41, "22"), (80, "22"), (79, "22"), (100, "22"), (20, "01")], 80, 100, 60)
@example([(40, "22"), (100, "22"), (70, "22"), (99, "01"), (100, "01")], 100, 100, 60)
@example([(10, "22"), (70, "22"), (71, "22"), (130, "22")], 70, 130, 60)
def test_r11_counts_the_middle_of_its_window_and_reads_only_the_edges(
    firsts: list[tuple[int, str]], a: int, b: int, window_min: int
) -> None:
    """The round's first scans get the same count per place whether R11 reads the whole window or only the
    edges of it with the middle counted; and no row read lies in the counted middle."""
    window = timedelta(minutes=window_min)
    # One first scan per serial (as the scan log flags them), some at the same minute.
    scans = [at(m, serial=f"S{i:017d}", where=None, province=place) for i, (m, place) in enumerate(firsts)]
    scans.sort(key=lambda s: (s.scanned_at, s.id))
    first, last = T0 + timedelta(minutes=min(a, b)), T0 + timedelta(minutes=max(a, b))
    in_round = [s for s in scans if first <= s.scanned_at <= last]
    assume(in_round)

    def within(after: datetime, until: datetime) -> list[Scan]:
        return [s for s in scans if after < s.scanned_at <= until]

    place = lambda s: s.province  # noqa: E731
    whole = _sliding(within(first - window, last), place, window)
    reads = burst_reads(first, last, window)
    rows = [s for after, until in reads.rows for s in within(after, until)]
    before: dict[Any, int] = {}
    if reads.counted is not None:
        middle = within(*reads.counted)
        assert not {s.id for s in middle} & {s.id for s in rows}
        assert not {s.id for s in middle} & {s.id for s in in_round}
        for s in middle:
            before[s.province] = before.get(s.province, 0) + 1
    edges = _sliding(rows, place, window, before=before)
    assert {s.id: edges[s.id] for s in in_round} == {s.id: whole[s.id] for s in in_round}
    # Rows come only from the window's two edges, each no longer than the round.
    assert all(until - after <= last - first + timedelta(microseconds=1) for after, until in reads.rows) or (
        reads.counted is None
    )


@pytest.mark.parametrize(
    ("others", "expected"),
    [
        ([f"U{i:017d}" for i in range(4)], {"R1"}),  # the fifth unknown serial in Hà Nội today
        ([f"U{i:017d}" for i in range(3)], set()),
        (["U00000000000000000"] * 6, set()),  # one unknown serial scanned again and again
    ],
)
def test_r1_cluster_of_unknown_serials_in_one_province(others: list[str], expected: set[str]) -> None:
    unknown = [at(i, serial=s, verdict="unknown", where=None, province="01") for i, s in enumerate(others)]
    scan = at(60, serial="NEW000000000000000", verdict="unknown", where=None, province="01")
    evaluation = evaluate(
        scan, [], Context(unknown_serials_here=len({u.serial for u in unknown}) + 1), SETTINGS
    )
    assert {f.rule for f in evaluation.findings} == expected
    assert evaluation.risk == 0  # about the province, not a stamp
    if expected:
        assert evaluation.findings[0].key == "province:01"


def test_thresholds_are_read_from_the_settings() -> None:
    strict = AnomalySettings(devices_24h=2, scans_30d=2)
    assert fired([at(0), at(H, device=b"p2"), at(2 * H, device=b"p3")], settings=strict) == {"R6", "R7"}


def test_the_history_is_cut_to_the_last_n_scans() -> None:
    old_clone = [at(0, where=HA_NOI), at(10, where=HO_CHI_MINH)]
    recent = [at(DAY + i * 7 * DAY, where=HO_CHI_MINH) for i in range(3)]
    evaluation = evaluate(at(30 * 7 * DAY, where=HO_CHI_MINH), [*old_clone, *recent], Context(home_province="79"),
                          AnomalySettings(history=3))  # fmt: skip
    assert evaluation.impossible_travels == 0


# Geography


def test_the_34_provinces_and_their_land_neighbours() -> None:
    assert len(geography.PROVINCES) == 34
    assert all(len(code) == 2 and code.isdigit() for code in geography.PROVINCES)
    for code, near in geography.NEIGHBOURS.items():
        assert near, f"{code} has no neighbour"
        assert all(code in geography.neighbours(other) for other in near), code
    assert geography.neighbours("22") == {"20", "24", "31"}
    assert geography.neighbours("99") == frozenset()


@pytest.mark.parametrize(
    ("place", "code"),
    [
        (HA_NOI, "01"), (HO_CHI_MINH, "79"), (HA_LONG, "22"), ((16.054, 108.202), "48"), ((10.045, 105.747), "92"),
        ((11.940, 108.458), "68"), ((18.679, 105.681), "40"), ((10.360, 106.360), "82"), ((21.310, 105.597), "25"),
        ((10.22, 103.96), "91"),  # Phú Quốc
        ((48.85, 2.35), None), ((13.75, 100.50), None),  # Paris, Bangkok
    ],
)  # fmt: skip
def test_province_at_a_point(place: tuple[float, float], code: str | None) -> None:
    assert geography.province_at(*place) == code


def test_every_former_seat_lies_in_its_province() -> None:
    for seat in geography.SEATS:
        assert geography.province_at(seat.latitude, seat.longitude) == seat.code, seat.city


POINTS = st.tuples(st.floats(-89.9, 89.9), st.floats(-180, 180))
VIETNAM = st.tuples(st.floats(8.5, 23.3), st.floats(102.2, 109.4))


@given(POINTS, POINTS, POINTS)
def test_haversine_is_a_distance(
    a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]
) -> None:
    ab, ba = geography.haversine_km(*a, *b), geography.haversine_km(*b, *a)
    assert ab == pytest.approx(ba, abs=1e-6)
    assert 0 <= ab <= 20_016  # half the circumference
    assert geography.haversine_km(*a, *a) == pytest.approx(0, abs=1e-6)
    assert geography.haversine_km(*a, *c) <= ab + geography.haversine_km(*b, *c) + 1e-6


@given(VIETNAM, VIETNAM, st.floats(0, 48), st.floats(0, 50_000), st.floats(0, 50_000))
def test_a_journey_is_impossible_exactly_when_distance_less_accuracies_beats_the_speed(
    a: tuple[float, float], b: tuple[float, float], hours: float, acc_a: float, acc_b: float
) -> None:
    first = Scan(1, T0, "S", latitude=a[0], longitude=a[1], accuracy_m=acc_a)
    second = Scan(2, T0 + timedelta(hours=hours), "S", latitude=b[0], longitude=b[1], accuracy_m=acc_b)
    hours = (second.scanned_at - T0).total_seconds() / 3600
    distance = geography.haversine_km(*a, *b)
    speed = 120 if hours < 6 else 900
    margin = distance - (acc_a + acc_b) / 1000 - speed * hours
    assume(abs(margin) > 1e-6)
    found = journey(first, second, SETTINGS)
    assert (found is not None) == (margin > 0)
    # Symmetric in time, and never impossible for the same place.
    assert (journey(second, first, SETTINGS) is None) == (found is None)
    assert journey(first, replace(second, latitude=a[0], longitude=a[1]), SETTINGS) is None


@given(
    st.sampled_from(sorted(geography.PROVINCES)),
    st.sampled_from(sorted(geography.PROVINCES)),
    st.floats(0, 30),
)
def test_ip_only_journeys_need_300_km_within_24_hours(a: str, b: str, hours: float) -> None:
    first = Scan(1, T0, "S", province_code=a)
    second = Scan(2, T0 + timedelta(hours=hours), "S", province_code=b)
    hours = (second.scanned_at - T0).total_seconds() / 3600
    pa, pb = geography.PROVINCES[a], geography.PROVINCES[b]
    distance = geography.haversine_km(pa.latitude, pa.longitude, pb.latitude, pb.longitude)
    margin = distance - 100 - (120 if hours < 6 else 900) * hours
    assume(abs(margin) > 1e-6)
    impossible = distance >= 300 and hours <= 24 and margin > 0
    assert (journey(first, second, SETTINGS) is not None) == impossible


def test_epcis_receiving_puts_a_province_in_region_and_a_shop_out_of_a_burst() -> None:
    """R8 must not fire where (or next to where) the lot was received; R11 must not fire in a province whose
    registered shop received it, and still fires elsewhere."""
    far = at(0, where=HO_CHI_MINH)
    assert [f.rule for f in evaluate(far, [], Context(home_province="22"), SETTINGS).findings] == ["R8"]
    received = Context(home_province="22", received_in=frozenset({"79"}))
    assert evaluate(far, [], received, SETTINGS).findings == ()
    burst = Context(home_province="79", batch_quantity=10, first_scans_here=6)
    first = Scan(1, far.scanned_at, serial="S1", batch_id=uuid.uuid4(), province_code="79")
    assert [f.rule for f in evaluate(first, [], burst, SETTINGS).findings] == ["R11"]
    warehouse = Context(
        home_province="79", batch_quantity=10, first_scans_here=6, received_in=frozenset({"79"})
    )
    assert [f.rule for f in evaluate(first, [], warehouse, SETTINGS).findings] == ["R11"]
    shop = Context(
        home_province="79", batch_quantity=10, first_scans_here=6, received_in=frozenset({"79"}),
        received_by_shops_in=frozenset({"79"}),
    )  # fmt: skip
    assert evaluate(first, [], shop, SETTINGS).findings == ()
    elsewhere = Context(
        home_province="79", batch_quantity=10, first_scans_here=6, received_by_shops_in=frozenset({"01"})
    )
    assert [f.rule for f in evaluate(first, [], elsewhere, SETTINGS).findings] == ["R11"]
