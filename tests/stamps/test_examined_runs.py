"""The detector's examined scans within its overlap, kept as runs of consecutive ids (anomalies.examined)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.stamps.anomalies.examined import Run, bounds, parse, stored, with_examined, within

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)

# A scan id has one time, not in id order (a scan's time is taken before its id is drawn).
rounds = st.lists(st.sets(st.integers(1, 400), max_size=40), max_size=6)


def _at(scan_id: int) -> datetime:
    return T0 + timedelta(seconds=scan_id * 37 % 600)


def _ids(runs: list[Run]) -> set[int]:
    return {scan_id for run in runs for scan_id in range(run.first, run.last + 1)}


@given(rounds)
def test_runs_hold_exactly_the_examined_ids_and_survive_storage(
    examined_by_round: list[set[int]],
) -> None:
    runs: list[Run] = []
    for examined in examined_by_round:
        runs = parse(stored(with_examined(runs, {scan_id: _at(scan_id) for scan_id in examined})))
    everything = {scan_id: _at(scan_id) for examined in examined_by_round for scan_id in examined}
    assert _ids(runs) == set(everything)
    # Disjoint, not adjacent (else they would be one run), in id order; each knows its newest scan.
    assert all(a.last + 1 < b.first for a, b in itertools.pairwise(runs))
    for run in runs:
        assert run.latest == max(at for scan_id, at in everything.items() if run.first <= scan_id <= run.last)


def test_consecutive_ids_are_one_run_and_a_gap_splits_them() -> None:
    examined = {scan_id: T0 + timedelta(seconds=scan_id) for scan_id in [*range(100, 200), *range(201, 300)]}
    runs = with_examined([], examined)
    assert [(run.first, run.last) for run in runs] == [(100, 199), (201, 299)]
    assert stored(runs) == {"100-199": (T0 + timedelta(seconds=199)).isoformat(),
                            "201-299": (T0 + timedelta(seconds=299)).isoformat()}  # fmt: skip
    # The scan that was not committed when the round read is examined later: the gap closes.
    closed = with_examined(runs, {200: T0})
    assert [(run.first, run.last) for run in closed] == [(100, 299)]
    assert bounds(closed) == ([100], [299])


def test_a_run_is_dropped_once_its_newest_scan_is_behind_the_horizon() -> None:
    runs = [Run(1, 10, T0), Run(12, 20, T0 + timedelta(seconds=30))]
    assert within(runs, T0 + timedelta(seconds=1)) == [Run(12, 20, T0 + timedelta(seconds=30))]
    assert within(runs, T0) == runs


def test_the_first_stored_form_one_id_per_key_reads_as_runs() -> None:
    earlier = {"7": T0.isoformat(), "8": (T0 + timedelta(seconds=1)).isoformat(), "10": T0.isoformat()}
    assert parse(earlier) == [Run(7, 8, T0 + timedelta(seconds=1)), Run(10, 10, T0)]
    assert parse(None) == []
