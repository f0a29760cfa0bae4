"""Request bodies are bounded in size and in time, per route, before any handler reads them.

A declared ``Content-Length`` over the route's cap is a 413 before a byte of the body is read; a
chunked body is counted as it arrives and cut off at the cap; a body that stops arriving for
``read_timeout_s`` is a 408. Either way the handler (or the gateway's proxy) sees the client go away
and the client gets a problem+json answer, so a hostile client costs at most the cap in memory.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import problem_response

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class BodyLimits:
    """The default cap, the routes with a cap of their own (first match wins) and the read timeout."""

    default_bytes: int = MIB
    routes: Sequence[tuple[str, int]] = field(default_factory=tuple)
    read_timeout_s: float = 30.0
    _compiled: tuple[tuple[re.Pattern[str], int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled = tuple((re.compile(pattern), cap) for pattern, cap in self.routes)
        object.__setattr__(self, "_compiled", compiled)

    def cap_for(self, method: str, path: str) -> int:
        """The largest body accepted for ``method path``."""
        for pattern, cap in self._compiled:
            if pattern.fullmatch(f"{method} {path}"):
                return cap
        return self.default_bytes


class RequestBodyGuard:
    """Pure ASGI: enforce ``BodyLimits`` on every HTTP request."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            # Most requests (every GET) carry no body: nothing to count, and nothing may time out
            # a long download that listens on receive() for the client leaving.
            await self.app(scope, receive, send)
            return
        cap = self.limits.cap_for(scope["method"], scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > cap:
            await _answer(scope, receive, send, 413, cap)
            return
        received = 0
        refused: int | None = None
        response_started = False
        body_complete = False

        async def guarded_receive() -> Message:
            nonlocal received, refused, body_complete
            if refused is not None:
                return {"type": "http.disconnect"}
            if body_complete:
                return await receive()  # only the client's leaving is left to hear: no deadline
            try:
                async with asyncio.timeout(self.limits.read_timeout_s):
                    message = await receive()
            except TimeoutError:
                refused = 408
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    refused = 413
                    return {"type": "http.disconnect"}
                body_complete = not message.get("more_body", False)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if refused is not None and not response_started:
                return  # the handler's answer to a body it never got whole; ours goes out below
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except Exception:
            if refused is None:
                raise
        if refused is not None and not response_started:
            await _answer(scope, receive, send, refused, cap)


def _has_body(scope: Scope) -> bool:
    return any(name in (b"content-length", b"transfer-encoding") for name, _ in scope["headers"])


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _answer(scope: Scope, receive: Receive, send: Send, status: int, cap: int) -> None:
    if status == 413:
        response = problem_response(
            413, "body-too-large", "Request body too large",
            f"this endpoint accepts at most {cap} bytes", scope["path"], headers={"Connection": "close"},
            max_bytes=cap,
        )  # fmt: skip
    else:
        response = problem_response(
            408, "request-timeout", "Request timeout", "the request body stopped arriving", scope["path"],
            headers={"Connection": "close"},
        )  # fmt: skip
    await response(scope, receive, send)
