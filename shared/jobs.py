"""A background job in a service process: one pass every ``every_s`` seconds, or at once when woken."""

from __future__ import annotations

import asyncio
import contextlib
import logging


class WakeableJob:
    """Runs ``run_once`` in a loop that outlives a failed pass; ``wake()`` starts the next pass now."""

    name = "background job"

    def __init__(self, *, every_s: float) -> None:
        self.every_s = every_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> int:
        """One pass; how much it did."""
        raise NotImplementedError

    def wake(self) -> None:
        """Run the next pass now (after a commit that gave it work)."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.run_once()
            except Exception:  # the loop must outlive a database restart or one pass's failure
                logging.getLogger(type(self).__module__).exception("%s: a pass failed", self.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.every_s)

    def start(self) -> None:
        """Start the loop."""
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        """Stop the loop; work cut short is picked up again at the next start."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
