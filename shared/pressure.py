"""CPU pressure (Linux PSI): the share of time some runnable task waited for a CPU.

Background work reads it to step aside while requests compete for the CPU. In a container the cgroup's
own file counts (its tasks' stalls, throttling included); elsewhere the machine's. Where the kernel has
no PSI (not Linux, or built without it) the pressure is unknown and nothing steps aside.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

PSI_FILES = (Path("/sys/fs/cgroup/cpu.pressure"), Path("/proc/pressure/cpu"))


def cpu_stall_us(files: tuple[Path, ...] = PSI_FILES) -> int | None:
    """Microseconds in all during which some task waited for a CPU (PSI's ``some total``); None if unknown."""
    for path in files:
        try:
            lines = path.read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            if line.startswith("some "):
                for field in line.split()[1:]:
                    if field.startswith("total="):
                        return int(field.removeprefix("total="))
    return None


class PressureGauge:
    """The share of wall time between ``start`` and ``share`` during which some task waited for a CPU."""

    def __init__(
        self, stalled_us: Callable[[], int | None] = cpu_stall_us, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._stalled_us = stalled_us
        self._clock = clock
        self._since: tuple[int, float] | None = None

    def start(self) -> None:
        """Begin a measurement."""
        stalled = self._stalled_us()
        self._since = None if stalled is None else (stalled, self._clock())

    def share(self) -> float | None:
        """The pressure since ``start`` (0 to 1); None when unknown or not started."""
        if self._since is None:
            return None
        stalled = self._stalled_us()
        elapsed = self._clock() - self._since[1]
        if stalled is None or elapsed <= 0:
            return None
        return min(1.0, max(0.0, (stalled - self._since[0]) / (elapsed * 1_000_000)))
