"""The scans a detector has examined within its overlap, kept as runs of consecutive scan ids.

Each round reads again ``overlap_s`` behind its watermark and skips what it examined there. Kept id by
id, that set grew with the scan rate (360,000 ids at 3,000 scans/s over 120 s) and every round decoded,
merged, encoded, stored and sent all of it: under a burst a round cost more than its own scans. Scan ids
come from one sequence and a round examines every committed scan of its window, so the set is a few
runs of consecutive ids; the gaps are scans not yet committed when it was read. A run is stored as
``"first-last": time of its latest scan`` and dropped once that time is behind the overlap. A single id
(``"id": time``, as the state was first stored) reads as a run of one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Run:
    """Scan ids ``first`` to ``last``, all examined; ``latest`` is the time of the newest of those scans."""

    first: int
    last: int
    latest: datetime


def parse(stored: Mapping[str, str] | None) -> list[Run]:
    """The runs of a stored state (either form), in id order."""
    runs = []
    for key, at in (stored or {}).items():
        first, _, last = key.partition("-")
        runs.append(Run(int(first), int(last or first), datetime.fromisoformat(at)))
    return _merged(runs)


def with_examined(runs: Iterable[Run], examined: Mapping[int, datetime]) -> list[Run]:
    """``runs`` with the scans of ``examined`` (id → time) added."""
    return _merged([*runs, *(Run(scan_id, scan_id, at) for scan_id, at in examined.items())])


def within(runs: Iterable[Run], horizon: datetime) -> list[Run]:
    """The runs with a scan at or after ``horizon``: older ones are behind the overlap, never read again."""
    return [run for run in runs if run.latest >= horizon]


def stored(runs: Iterable[Run]) -> dict[str, str]:
    """The runs as the state stores them."""
    return {f"{run.first}-{run.last}": run.latest.isoformat() for run in runs}


def bounds(runs: Iterable[Run]) -> tuple[list[int], list[int]]:
    """The runs' first ids and last ids, as two lists for a statement."""
    listed = list(runs)
    return [run.first for run in listed], [run.last for run in listed]


def _merged(runs: list[Run]) -> list[Run]:
    """Overlapping and adjacent runs joined, in id order."""
    joined: list[Run] = []
    for run in sorted(runs, key=lambda run: run.first):
        if joined and run.first <= joined[-1].last + 1:
            last = joined[-1]
            joined[-1] = Run(last.first, max(last.last, run.last), max(last.latest, run.latest))
        else:
            joined.append(run)
    return joined
