"""A fake of the national OCOP system's endpoint: a real HTTP server on a loopback port (an outside system).

It does what the real receiver is expected to (docs/EVENTS.md, "The national sync"): refuses a missing or
wrong bearer token and a bad signature (401), a body that breaks the national schema (422), and applies
each ``event_id`` once (a redelivery is answered 200 and changes nothing). A test can make it fail for a
while: answer 500, hang past the sender's timeout before doing anything, or do the work and then hang
(the answer is lost: the sender retries a delivery the receiver already applied).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from aiohttp import web

from shared.events.signing import SIGNATURE_HEADER, verify
from tests.support.event_schemas import national_errors
from tests.support.processes import HOST

# 500: refused before anything is done; "timeout": no answer, nothing done; "late": done, then no answer.
Failure = Literal[500, "timeout", "late"]
HANG_S = 60.0  # far beyond any sender's timeout in the tests; cut short when the server stops


@dataclass(frozen=True)
class Post:
    """One POST the endpoint received, and what it answered (0: it never answered)."""

    event_id: str | None
    change: str | None
    status: int
    headers: dict[str, str]
    raw: bytes
    duplicate: bool = False


@dataclass
class FakeNational:
    """The national endpoint; ``accepted`` holds each event id's body once, in the order applied."""

    token: str
    secret: str
    url: str = ""
    posts: list[Post] = field(default_factory=list)
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)
    _failure: Failure | None = None
    _planned: deque[Failure] = field(default_factory=deque)
    _runner: web.AppRunner | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _released: asyncio.Event = field(default_factory=asyncio.Event)

    def fail(self, how: Failure = 500, *, times: int | None = None) -> None:
        """Fail the next ``times`` POSTs this way (after any failures already planned), or every POST until
        ``recover`` when ``times`` is None."""
        if times is None:
            self._failure = how
        else:
            self._planned.extend([how] * times)

    def recover(self) -> None:
        """Answer normally again."""
        self._failure = None
        self._planned.clear()

    def _failing(self) -> Failure | None:
        return self._planned.popleft() if self._planned else self._failure

    async def _hang(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._released.wait(), HANG_S)

    def _answer(
        self, status: int, request: tuple[dict[str, str], bytes, Any], payload: dict[str, Any]
    ) -> web.Response:
        headers, raw, body = request
        event_id = body.get("event_id") if isinstance(body, dict) else None
        change = body.get("change") if isinstance(body, dict) else None
        duplicate = payload.get("outcome") == "duplicate"
        self.posts.append(Post(event_id, change, status, headers, raw, duplicate))
        self._arrived.set()
        return web.json_response(payload, status=status)

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        headers = dict(request.headers)
        try:
            body: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        seen = (headers, raw, body)
        how = self._failing()
        if how == 500:
            return self._answer(500, seen, {"title": "national system unavailable"})
        if how == "timeout":
            self._answer(0, seen, {})
            await self._hang()
            return web.json_response({}, status=503)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._answer(401, seen, {"title": "bad or missing bearer token"})
        if not verify(request.headers.get(SIGNATURE_HEADER), raw, [self.secret]):
            return self._answer(401, seen, {"title": "bad signature"})
        errors = national_errors(body)
        if errors:
            return self._answer(422, seen, {"title": "not a national record", "errors": errors})
        if request.headers.get("Idempotency-Key") != body["event_id"]:
            return self._answer(400, seen, {"title": "Idempotency-Key is not the event id"})
        duplicate = body["event_id"] in self.accepted
        if not duplicate:
            self.accepted[body["event_id"]] = body
        if how == "late":
            self._answer(0, seen, {})
            await self._hang()
            return web.json_response({}, status=503)
        return self._answer(200, seen, {"outcome": "duplicate" if duplicate else "accepted"})

    async def start(self) -> FakeNational:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_post("/ocop/products", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, HOST, 0).start()
        self.url = f"http://{HOST}:{self._runner.addresses[0][1]}/ocop/products"
        return self

    async def stop(self) -> None:
        """Close the port and every connection (hanging answers end)."""
        self._released.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def products(self) -> dict[str, dict[str, Any]]:
        """The national system's view: each product's latest record (or tombstone), applied in order."""
        view: dict[str, dict[str, Any]] = {}
        for body in self.accepted.values():
            view[body["product"]["id"]] = body["product"]
        return view

    async def wait_for(self, check: Callable[[], bool], deadline_s: float = 15.0) -> None:
        """Until ``check()`` holds about what arrived (AssertionError after the deadline)."""
        end = time.monotonic() + deadline_s
        while not check():
            remaining = end - time.monotonic()
            assert remaining > 0, f"not reached in {deadline_s} s; received {self.posts}"
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout=min(remaining, 0.2))
