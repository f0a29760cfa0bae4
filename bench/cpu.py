"""CPU accounting: what each server spent per request, and how much of the machine was someone else's."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def machine_busy_s() -> float | None:
    """CPU seconds all CPUs spent busy since boot (None off Linux)."""
    try:
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal: everything but idle and iowait is busy.
    return (sum(fields) - fields[3] - fields[4]) / _CLOCK_TICKS


def background_busy(sample_s: float = 1.0) -> float | None:
    """Share of all CPUs busy over ``sample_s`` while nothing of ours is loaded."""
    before = machine_busy_s()
    time.sleep(sample_s)
    after = machine_busy_s()
    if before is None or after is None:
        return None
    return (after - before) / (sample_s * (os.cpu_count() or 1))


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def backends_of(database: str) -> list[psutil.Process]:
    """PostgreSQL's backend processes serving ``database`` (their title names it)."""
    backends = []
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] == "postgres" and database in " ".join(process.info["cmdline"] or ()):
            backends.append(process)
    return backends


def _cpu_by_pid(processes: list[psutil.Process]) -> dict[int, float]:
    used: dict[int, float] = {}
    for process in processes:
        # A process may end between listing and reading; it simply does not count.
        with contextlib.suppress(psutil.Error):
            used[process.pid] = _cpu_s(process)
    return used


def _reaped_cpu_s(process: psutil.Process) -> float:
    """CPU seconds of the children ``process`` has waited for: the backends that have exited."""
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.children_user + times.children_system)


class PostgresCpu:
    """A running total of the CPU seconds of PostgreSQL's backends serving ``database``: the difference of
    two readings (calls) is what they used in between.

    Backends come and go (pool overflow, a bench's own checks): each live one counts by its growth since
    the last reading (a new one whole), and one that has exited by its whole CPU, which the postmaster
    collected, less what was already counted of it.
    """

    def __init__(self, database: str) -> None:
        self.database = database
        # Seen at the last reading: the postmasters, and each live backend's CPU seconds.
        self.postmasters: dict[int, psutil.Process] = {}
        self.backends: dict[int, float] = {}
        self._counted = 0.0
        self._reaped_at_start: float | None = None

    def __call__(self) -> float:
        """The running total now."""
        backends = backends_of(self.database)
        for backend in backends:
            with contextlib.suppress(psutil.Error):
                if (parent := backend.parent()) is not None:
                    self.postmasters.setdefault(parent.pid, parent)
        live = _cpu_by_pid(backends)
        for pid, seconds in live.items():
            self._counted += seconds - self.backends.get(pid, 0.0)
        for pid in set(self.backends) - set(live):
            self._counted -= self.backends[pid]  # its whole CPU comes back through the reaped children
        self.backends = live
        reaped = sum(_reaped_cpu_s(postmaster) for postmaster in self.postmasters.values())
        if self._reaped_at_start is None:
            self._reaped_at_start = reaped
        return self._counted + reaped - self._reaped_at_start


@dataclass
class _Sample:
    servers: dict[str, float]
    postgres: float
    ours: dict[int, float]
    machine: float | None


class CpuMeter:
    """Samples at a load window's edges: each server's CPU, PostgreSQL's, ours in total, the machine's."""

    def __init__(self, servers: dict[str, int], database: str) -> None:
        self._servers = {name: psutil.Process(pid) for name, pid in servers.items()}
        self._postgres = PostgresCpu(database)
        self._start: _Sample | None = None
        self.server_s: dict[str, float] = {}
        self.postgres_s = 0.0
        self.ours_s = 0.0
        self.machine_s: float | None = None

    def _sample(self) -> _Sample:
        postgres = self._postgres()
        me = psutil.Process()
        # This process (the Python load generator) and its children: every server we started. PostgreSQL's
        # processes are counted apart even when it is an embedded server we started.
        apart = {*self._postgres.postmasters, *self._postgres.backends}
        ours = [p for p in (me, *me.children(recursive=True)) if p.pid not in apart]
        return _Sample(
            servers={name: _cpu_s(process) for name, process in self._servers.items()},
            postgres=postgres,
            ours=_cpu_by_pid(ours),
            machine=machine_busy_s(),
        )

    def __call__(self, mark: str) -> None:
        """The load generator's window hook ("start", then "end")."""
        if mark == "start":
            self._start = self._sample()
            return
        start, end = self._start, self._sample()
        if start is None:
            raise RuntimeError("the load window ended before it started")
        self.server_s = {name: end.servers[name] - start.servers[name] for name in end.servers}
        self.postgres_s = end.postgres - start.postgres
        # Processes alive at both edges only: the servers live throughout; wrk is added by the caller.
        self.ours_s = sum(end.ours[pid] - start.ours[pid] for pid in end.ours if pid in start.ours)
        self.ours_s += self.postgres_s
        if end.machine is not None and start.machine is not None:
            self.machine_s = end.machine - start.machine
