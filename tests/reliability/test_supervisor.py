"""The supervisor's restart policy, with a clock the test moves."""

from __future__ import annotations

from services.supervisor import MAX_BACKOFF_S, STABLE_AFTER_S, Supervisor, backoff_s


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [backoff_s(n) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert backoff_s(50) == MAX_BACKOFF_S


class Flaky:
    """A child that is up until the test kills it."""

    def __init__(self) -> None:
        self.up = False
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        self.up = True


def test_a_dead_child_is_restarted_after_its_delay_and_others_are_untouched() -> None:
    now = [0.0]
    said: list[str] = []
    supervisor = Supervisor(said.append, clock=lambda: now[0])
    registry, scoring = Flaky(), Flaky()
    supervisor.add("registry", registry.start, lambda: registry.up)
    supervisor.add("scoring", scoring.start, lambda: scoring.up)
    supervisor.start_all()
    registry.up = False
    supervisor.poll()
    assert said == ["registry: not running; restarting in 1 s (crash 1)"]
    now[0] = 0.5
    supervisor.poll()
    assert registry.starts == 1  # still waiting out its delay
    now[0] = 1.0
    supervisor.poll()
    assert registry.starts == 2
    assert scoring.starts == 1
    # A second crash soon after waits longer; a long healthy run resets the count.
    registry.up = False
    now[0] = 2.0
    supervisor.poll()
    assert said[-1] == "registry: not running; restarting in 2 s (crash 2)"
    now[0] = 4.0
    supervisor.poll()
    now[0] = 4.0 + STABLE_AFTER_S
    supervisor.poll()
    registry.up = False
    supervisor.poll()
    assert said[-1] == "registry: not running; restarting in 1 s (crash 1)"


def test_a_start_that_fails_counts_as_a_crash_and_is_retried() -> None:
    now = [0.0]
    said: list[str] = []
    attempts = []

    def start() -> None:
        attempts.append(now[0])
        if len(attempts) == 2:
            raise OSError("address in use")

    alive = [True]
    supervisor = Supervisor(said.append, clock=lambda: now[0])
    supervisor.add("gateway", start, lambda: alive[0])
    supervisor.start_all()
    alive[0] = False
    supervisor.poll()
    now[0] = 1.0
    supervisor.poll()  # the restart raises
    assert said[-1] == "gateway: not running; restarting in 2 s (crash 2)"
    now[0] = 3.0
    supervisor.poll()
    assert attempts == [0.0, 1.0, 3.0]
