"""The streaming reverse proxy: a pure ASGI app in front of the gateway's own FastAPI routes."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from typing import IO

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.routes import upstream_for
from shared.errors import PROBLEM_MEDIA_TYPE, problem_body
from shared.http import Body, RawHeaders, Upstream, UpstreamConnectError, UpstreamTimeout
from shared.request_id import REQUEST_ID_HEADER, current_request_id

HOP_BY_HOP = frozenset(
    {
        b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te",
        b"trailer", b"trailers", b"transfer-encoding", b"upgrade", b"host",
    }
)  # fmt: skip
# The gateway sets these itself; a client must not be able to forge them.
_SET_BY_GATEWAY = frozenset({b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"x-request-id"})
_REQUEST_ID = REQUEST_ID_HEADER.lower().encode()
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
# A body up to this size whose length is known is read whole and sent in one message: streaming it
# chunk by chunk costs more than the copy.
WHOLE_BODY_LIMIT = 64 * 1024
# Request bodies up to this size wait in memory before they are forwarded; larger ones in a temporary file.
IN_MEMORY_BODY_BYTES = 1024 * 1024
SPOOL_CHUNK_BYTES = 256 * 1024


def _connection_listed(headers: RawHeaders) -> frozenset[bytes]:
    """Header names a Connection header declares hop-by-hop."""
    listed: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            listed.update(token.strip().lower() for token in value.split(b","))
    return frozenset(listed)


def forward_headers(scope: Scope) -> RawHeaders:
    """The client's headers minus hop-by-hop ones, plus X-Forwarded-* and our request id."""
    # One pass over the headers (ASGI servers give their names in lower case): this runs per request.
    incoming: RawHeaders = scope["headers"]
    headers: RawHeaders = []
    forwarded_for: list[bytes] = []
    host = None
    listed: frozenset[bytes] = frozenset()
    for name, value in incoming:
        if name in HOP_BY_HOP or name in _SET_BY_GATEWAY:
            if name == b"x-forwarded-for":
                forwarded_for.append(value)
            elif name == b"host" and host is None:
                host = value
            elif name == b"connection":
                listed = _connection_listed(incoming)
            continue
        headers.append((name, value))
    if listed:
        headers = [(name, value) for name, value in headers if name not in listed]
    client = scope.get("client")
    if client:
        # Appending keeps the chain a trusted proxy in front of us started.
        forwarded_for.append(client[0].encode())
    if forwarded_for:
        headers.append((b"x-forwarded-for", b", ".join(forwarded_for)))
    headers.append((b"x-forwarded-proto", scope.get("scheme", "http").encode()))
    if host:
        headers.append((b"x-forwarded-host", host))
    headers.append((_REQUEST_ID, (current_request_id() or "").encode()))
    return headers


_DROPPED_FROM_RESPONSE = HOP_BY_HOP | {_REQUEST_ID, b"date", b"server"}


def response_headers(headers: RawHeaders) -> RawHeaders:
    """The upstream's headers minus hop-by-hop ones (our middleware adds the request id)."""
    # uvicorn adds its own date and server headers; passing the upstream's would duplicate them.
    kept = [(name.lower(), value) for name, value in headers]
    if any(name == b"connection" for name, _ in kept):
        dropped = _DROPPED_FROM_RESPONSE | _connection_listed(kept)
    else:
        dropped = _DROPPED_FROM_RESPONSE
    return [(name, value) for name, value in kept if name not in dropped]


class _ClientGone(Exception):
    """The client left (or was cut off by the body limits) before its body was complete."""


async def _spooled_chunks(spool: IO[bytes]) -> AsyncIterator[bytes]:
    try:
        spool.seek(0)
        while chunk := await asyncio.to_thread(spool.read, SPOOL_CHUNK_BYTES):
            yield chunk
    finally:
        spool.close()


async def _request_body(receive: Receive) -> bytes | AsyncIterator[bytes]:
    """The whole request body, read before an upstream connection is taken.

    A slow client then holds only its own socket, never one of the upstream pool's connections; the
    body limits (shared.body_limits) bound how much and how long. Large uploads wait on disk.
    """
    parts: list[bytes] = []
    size = 0
    spool: IO[bytes] | None = None
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            if spool is not None:
                spool.close()
            raise _ClientGone
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if spool is None and size > IN_MEMORY_BODY_BYTES:
                spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _spooled_chunks
                await asyncio.to_thread(spool.write, b"".join(parts))
                parts = []
            if spool is not None:
                await asyncio.to_thread(spool.write, chunk)
            else:
                parts.append(chunk)
        if not message.get("more_body", False):
            return _spooled_chunks(spool) if spool is not None else b"".join(parts)


async def _send_problem(send: Send, status: int, type_: str, title: str, detail: str) -> None:
    body = orjson.dumps(problem_body(status, type_, title, detail))
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body})


class ProxyApp:
    """Forward requests whose prefix an upstream owns; hand everything else to ``fallback``."""

    def __init__(self, app: ASGIApp, upstreams: dict[str, Upstream]) -> None:
        self.fallback = app
        self.upstreams = upstreams

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.fallback(scope, receive, send)
            return
        service = upstream_for(scope["path"])
        if service is None:
            await self.fallback(scope, receive, send)
            return
        await self.forward(service, scope, receive, send)

    async def forward(self, service: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Stream the request to ``service`` and its response back, both unbuffered."""
        target = scope.get("raw_path") or scope["path"].encode()
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        method: str = scope["method"]
        headers = forward_headers(scope)
        has_body = method not in _BODYLESS or any(
            n in (b"content-length", b"transfer-encoding") for n, _ in headers
        )
        try:
            body: Body = await _request_body(receive) if has_body else None
        except _ClientGone:
            return  # nothing was sent upstream; the body limits answer the client if it is still there
        try:
            response = await self.upstreams[service].send(method, target.decode("latin-1"), headers, body)
        except UpstreamTimeout:
            await _send_problem(
                send,
                504,
                "upstream-timeout",
                "Gateway timeout",
                f"The {service} service did not answer in time.",
            )
            return
        except UpstreamConnectError:
            await _send_problem(
                send,
                502,
                "upstream-unavailable",
                "Bad gateway",
                f"The {service} service could not be reached.",
            )
            return
        try:
            start: Message = {
                "type": "http.response.start",
                "status": response.status,
                "headers": response_headers(response.headers),
            }
            if response.content_length is not None and response.content_length <= WHOLE_BODY_LIMIT:
                body_bytes = await response.read()
                await send(start)
                await send({"type": "http.response.body", "body": body_bytes})
                return
            await send(start)
            async for chunk in response.body():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()
