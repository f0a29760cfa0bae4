"""Keep the suite's processes up: restart whatever dies, with backoff, while the others keep serving."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
# A child that has run this long without dying is healthy again: its next crash starts the backoff anew.
STABLE_AFTER_S = 60.0


def backoff_s(crashes: int) -> float:
    """Seconds to wait before restart number ``crashes`` (1, 2, 4 … capped at 30)."""
    return float(min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2 ** max(0, crashes - 1)))


@dataclass
class Child:
    """One supervised thing: how to start it and how to tell that it is still alive."""

    name: str
    start: Callable[[], None]
    alive: Callable[[], bool]
    crashes: int = 0
    started_at: float = 0.0
    restart_at: float | None = None


@dataclass
class Supervisor:
    """Starts children in order, polls them, restarts the dead ones after a growing delay."""

    say: Callable[[str], None]
    clock: Callable[[], float] = time.monotonic
    children: list[Child] = field(default_factory=list)

    def add(self, name: str, start: Callable[[], None], alive: Callable[[], bool]) -> None:
        """Supervise ``name``; ``start`` (re)starts it, ``alive`` says whether it still runs."""
        self.children.append(Child(name, start, alive))

    def start_all(self) -> None:
        """Start every child once, in the order added."""
        for child in self.children:
            child.start()
            child.started_at = self.clock()

    def poll(self) -> None:
        """Notice children that died and restart those whose delay has passed."""
        now = self.clock()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self.say(f"{child.name}: restarting (restart {child.crashes})")
                    child.restart_at = None
                    try:
                        child.start()
                    except Exception as exc:  # a failed start is one more crash, never the runner's end
                        self.say(f"{child.name}: restart failed: {exc}")
                        self._crashed(child, now)
                        continue
                    child.started_at = now
                continue
            if child.alive():
                if child.crashes and now - child.started_at >= STABLE_AFTER_S:
                    child.crashes = 0
                continue
            self._crashed(child, now)

    def _crashed(self, child: Child, now: float) -> None:
        child.crashes += 1
        delay = backoff_s(child.crashes)
        child.restart_at = now + delay
        self.say(f"{child.name}: not running; restarting in {delay:.0f} s (crash {child.crashes})")


def process_child(
    name: str, launch: Callable[[], subprocess.Popen[bytes]]
) -> tuple[Callable[[], None], Callable[[], bool], Callable[[], subprocess.Popen[bytes] | None]]:
    """start / alive / current-process functions for a child that is an OS process."""
    holder: dict[str, subprocess.Popen[bytes]] = {}

    def start() -> None:
        old = holder.get(name)
        if old is not None and old.poll() is None:
            old.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                old.wait(timeout=5)
        holder[name] = launch()

    def alive() -> bool:
        process = holder.get(name)
        return process is not None and process.poll() is None

    return start, alive, lambda: holder.get(name)
