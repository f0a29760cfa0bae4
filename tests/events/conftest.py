"""What the events tests share: a real subscriber over HTTP, the registry's outbox, and emitting into it."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web

from services.registry.db import outbox
from shared.db import Database
from shared.events import outbox as outbox_module
from shared.events.outbox import Outbox
from shared.events.signing import SIGNATURE_HEADER, verify
from tests.support.database import TestDatabase
from tests.support.processes import HOST

# The longest a test waits for something the relay does in the background: behaviour, not timing.
DEADLINE_S = 10.0


@dataclass(frozen=True)
class Received:
    """One POST a subscriber received, whatever it answered."""

    event_id: str
    type: str
    subject: str
    headers: dict[str, str]
    body: bytes
    signed: bool
    answered: int


# What the subscriber answers one delivery: a status, or "hang" (never answers in time).
Behaviour = Callable[[dict[str, Any], int], "int | str"]


@dataclass
class Receiver:
    """A subscriber's ``/internal/events`` on a real port: records every POST and answers as told.

    ``behaviour(envelope, attempt)`` (attempt counts this event's POSTs from 1) decides the answer.
    """

    secret: str
    behaviour: Behaviour = lambda _envelope, _attempt: 200
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _released: asyncio.Event = field(default_factory=asyncio.Event)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        envelope = orjson.loads(body)
        attempt = 1 + sum(1 for seen in self.received if seen.event_id == envelope["id"])
        answer = self.behaviour(envelope, attempt)
        signed = verify(request.headers.get(SIGNATURE_HEADER), body, [self.secret])
        status = answer if isinstance(answer, int) else 0
        self.received.append(Received(
            envelope["id"], envelope["type"], envelope["subject"], dict(request.headers), body, signed, status,
        ))  # fmt: skip
        self._arrived.set()
        if answer == "hang":
            await self._released.wait()  # until the test ends (stop), long past the relay's timeout
        return web.json_response({"id": envelope["id"], "outcome": "applied"}, status=status)

    async def start(self) -> Receiver:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_post("/internal/events", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://{HOST}:{port}/internal/events"
        return self

    async def stop(self) -> None:
        """Close the port and every connection (a hanging answer ends)."""
        self._released.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def delivered(self) -> list[Received]:
        """The POSTs it answered 2xx, in arrival order."""
        return [seen for seen in self.received if 200 <= seen.answered < 300]

    def ids(self) -> list[str]:
        """Event ids of the POSTs it answered 2xx, in arrival order."""
        return [seen.event_id for seen in self.delivered()]

    async def wait_for(self, check: Callable[[], bool], deadline_s: float = DEADLINE_S) -> None:
        """Until ``check()`` holds about what arrived (AssertionError after the deadline)."""
        end = time.monotonic() + deadline_s
        while not check():
            remaining = end - time.monotonic()
            assert remaining > 0, f"not received in {deadline_s} s; received {self.received}"
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout=min(remaining, 0.2))


@pytest.fixture
async def receivers(database: TestDatabase) -> AsyncIterator[Callable[..., Awaitable[Receiver]]]:
    """Start subscribers on free ports; every one is stopped after the test, before its database is reset
    (which waits for every task the test started: the subscribers' own among them)."""
    started: list[Receiver] = []

    async def start(secret: str = "sub-secret", behaviour: Behaviour | None = None) -> Receiver:  # noqa: S107
        receiver = Receiver(secret) if behaviour is None else Receiver(secret, behaviour)
        started.append(await receiver.start())
        return receiver

    yield start
    for receiver in started:
        await receiver.stop()


REGISTRY_OUTBOX = Outbox(outbox, source="registry")


@pytest.fixture(autouse=True)
def synthetic_event_types(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kit's tests emit made-up types (``registry.product.renamed``) to test the mechanism, not the
    catalogue: the suite-wide check against docs/EVENTS.md (tests/conftest.py) is off for them only."""
    monkeypatch.setattr(outbox_module, "_CHECKS", [])


@dataclass
class Emitter:
    """Commits events into the registry schema's outbox, as a service's transaction does."""

    database: Database

    async def emit(self, type: str, subject: str, data: dict[str, Any] | None = None) -> uuid.UUID:
        """One event, committed on its own."""
        async with self.database.sessionmaker() as session, session.begin():
            envelope = await REGISTRY_OUTBOX.emit(session, type=type, subject=subject, data=data or {})
        return envelope.id

    async def emit_many(self, events: list[tuple[str, str]]) -> list[uuid.UUID]:
        """Several (type, subject) events in one transaction, in order."""
        envelopes = [
            REGISTRY_OUTBOX.envelope(type=type, subject=subject, data={}) for type, subject in events
        ]
        async with self.database.sessionmaker() as session, session.begin():
            await REGISTRY_OUTBOX.emit_many(session, envelopes)
        return [envelope.id for envelope in envelopes]


@pytest.fixture
async def emitter(database: TestDatabase) -> AsyncIterator[Emitter]:
    """Emits into the test database's registry outbox (the test is marked ``commits``)."""
    connected = Database.connect(database.urls["registry"], application_name="test-emitter", pool_size=2)
    try:
        yield Emitter(connected)
    finally:
        await connected.dispose()
