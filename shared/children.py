"""Helper processes a service starts beside itself: restarted when they die, stopped with their parent.

A background job whose CPU grows with the traffic (the stamps service's anomaly detector) would share
the request path's one event loop and core; as a child process of lower priority it takes the CPU the
requests leave. The child reads its standard input, a pipe from the parent, and ends at its end of
file: a parent that is killed (SIGKILL, an OOM kill) cannot leave it running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence

logger = logging.getLogger("shared.children")

# The argument a supervised child is given: it then exits when its parent does.
WITH_PARENT = "--exit-with-parent"
STOP_TIMEOUT_S = 10.0
FIRST_RESTART_S = 1.0
LAST_RESTART_S = 30.0
# A child that ran this long before it died starts the back-off again from FIRST_RESTART_S.
HEALTHY_AFTER_S = 60.0


class ChildProcess:
    """``python -m <module> <args>`` run beside this process for as long as it runs."""

    def __init__(
        self, module: str, args: Sequence[str] = (), *, name: str, environment: Mapping[str, str] | None = None,
        nice: int = 0,
    ) -> None:  # fmt: skip
        self.command = [sys.executable, "-m", module, *args, WITH_PARENT]
        self.name = name
        # The child's whole environment (default: ours), e.g. settings.child_environment().
        self.environment = dict(environment) if environment is not None else None
        # How much lower than ours the child's CPU priority is.
        self.nice = nice
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.started_at = 0.0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the child, and a watcher that restarts it (waiting longer each time) if it dies."""
        await self._spawn()
        self._task = asyncio.create_task(self._watch(), name=f"{self.name}-watch")

    async def _spawn(self) -> None:
        # Its output goes where ours goes; its input is the pipe whose end tells it we are gone. A session
        # of its own: a terminal's Ctrl-C reaches us alone, and we stop it (no restart racing our shutdown).
        self.process = await asyncio.create_subprocess_exec(
            *self.command, stdin=asyncio.subprocess.PIPE, env=self.environment, start_new_session=True
        )
        self.started_at = time.monotonic()
        self.starts += 1
        if self.nice:
            with contextlib.suppress(ProcessLookupError):
                os.setpriority(
                    os.PRIO_PROCESS, self.process.pid, os.getpriority(os.PRIO_PROCESS, 0) + self.nice
                )
        logger.info("%s started (pid %d)", self.name, self.process.pid)

    async def _watch(self) -> None:
        delay = FIRST_RESTART_S
        while self.process is not None:
            code = await self.process.wait()
            if time.monotonic() - self.started_at > HEALTHY_AFTER_S:
                delay = FIRST_RESTART_S  # it had run well: a new failure, not the last one again
            logger.warning(
                "%s (pid %d) exited with %s; restarting in %.0f s", self.name, self.process.pid, code, delay
            )
            while True:
                await asyncio.sleep(delay)
                delay = min(delay * 2, LAST_RESTART_S)
                try:
                    await self._spawn()
                    break
                except OSError:  # no fork now (memory, a pids limit): try again later, never give up
                    logger.exception("%s could not be started; trying again in %.0f s", self.name, delay)

    async def stop(self) -> None:
        """Ask the child to finish (SIGTERM), kill it if it has not within ``STOP_TIMEOUT_S``."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            except Exception:  # the watcher's failure must not stop the service's shutdown
                logger.exception("%s: its watcher had failed", self.name)
            self._task = None
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=STOP_TIMEOUT_S)
        except TimeoutError:
            logger.warning("%s (pid %d) did not stop in time: killed", self.name, process.pid)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


def stop_signal(with_parent: bool) -> asyncio.Event:
    """An event set on SIGTERM or SIGINT and, for a supervised child, when its parent's pipe closes."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stopping.set)
    if with_parent:
        descriptor = sys.stdin.fileno()

        def parent_gone() -> None:
            # The parent never writes: anything readable is the end of the pipe (or a stray byte).
            if not os.read(descriptor, 1024):
                loop.remove_reader(descriptor)
                stopping.set()

        loop.add_reader(descriptor, parent_gone)
    return stopping
