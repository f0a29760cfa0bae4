"""What every service does once it has started: the objects of its start-up are frozen out of the collector until it stops."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from shared.app import create_service_app
from shared.config import BaseServiceSettings


class StartUpState:
    """Made by the lifespan below: alive for as long as the service runs."""


async def test_objects_alive_after_start_up_are_frozen() -> None:
    """A full collection never walks them again: the services' p99 was those collections' pauses."""
    made: list[StartUpState] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        made.append(StartUpState())
        yield

    app = create_service_app(
        name="test", title="test", settings=BaseServiceSettings(), routers=[], lifespan=lifespan
    )
    gc.unfreeze()
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 0
        # The collector tracks no frozen object: the start-up's state is out of its sight.
        assert not any(isinstance(tracked, StartUpState) for tracked in gc.get_objects())
        assert made
    # Stopped, everything is in sight again (a stopped app's cycles can be collected).
    assert gc.get_freeze_count() == 0
    assert any(isinstance(tracked, StartUpState) for tracked in gc.get_objects())
