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


@dataclass
class _Sample:
    servers: dict[str, float]
    backends: dict[int, float]
    reaped: dict[int, float]
    ours: dict[int, float]
    machine: float | None


class CpuMeter:
    """Samples at a load window's edges: each server's CPU, PostgreSQL's, ours in total, the machine's."""

    def __init__(self, servers: dict[str, int], database: str) -> None:
        self._servers = {name: psutil.Process(pid) for name, pid in servers.items()}
        self._database = database
        self._postmasters: dict[int, psutil.Process] = {}
        self._start: _Sample | None = None
        self.server_s: dict[str, float] = {}
        self.postgres_s = 0.0
        self.ours_s = 0.0
        self.machine_s: float | None = None

    def _sample(self) -> _Sample:
        backends = backends_of(self._database)
        for backend in backends:
            with contextlib.suppress(psutil.Error):
                parent = backend.parent()
                if parent is not None:
                    self._postmasters.setdefault(parent.pid, parent)
        me = psutil.Process()
        # This process (the Python load generator) and its children: every server we started. PostgreSQL's
        # processes are counted apart even when it is an embedded server we started.
        ours = [p for p in (me, *me.children(recursive=True)) if p.pid not in self._postmasters]
        backend_cpu = _cpu_by_pid(backends)
        return _Sample(
            servers={name: _cpu_s(process) for name, process in self._servers.items()},
            backends=backend_cpu,
            reaped={pid: _reaped_cpu_s(process) for pid, process in self._postmasters.items()},
            ours={pid: seconds for pid, seconds in _cpu_by_pid(ours).items() if pid not in backend_cpu},
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
        # Live backends' growth (a backend born in the window counts whole), plus the whole CPU of
        # those that exited, which the postmaster collects: the pool's overflow connections churn.
        live = sum(seconds - start.backends.get(pid, 0.0) for pid, seconds in end.backends.items())
        exited = sum(seconds - start.reaped.get(pid, 0.0) for pid, seconds in end.reaped.items())
        self.postgres_s = live + exited
        # Processes alive at both edges only: the servers live throughout; wrk is added by the caller.
        self.ours_s = sum(end.ours[pid] - start.ours[pid] for pid in end.ours if pid in start.ours)
        self.ours_s += self.postgres_s
        if end.machine is not None and start.machine is not None:
            self.machine_s = end.machine - start.machine
