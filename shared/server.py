"""uvicorn's httptools protocol with the limits a public edge needs: header size and header time.

uvicorn reads a request's headers for as long and as large as the client sends them: a client that
trickles a header, sends a 100 MB one, or connects and says nothing holds a connection and memory.
This protocol answers 431 to headers over ``OCOP_MAX_HEADER_BYTES`` and 408 to a request whose headers
are not complete within ``OCOP_HEADER_TIMEOUT_S`` of its first byte (or of the connection, for a
client that sends nothing), then closes the connection. Every process runs with it
(``--http shared.server:GuardedHttpToolsProtocol``); bodies are limited in ASGI (``shared.body_limits``).

It also writes each response's head and body in one system call (``CoalescingTransport``).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shared.errors import PROBLEM_MEDIA_TYPE, problem_body

MAX_HEADER_BYTES = int(os.environ.get("OCOP_MAX_HEADER_BYTES", str(32 * 1024)))
HEADER_TIMEOUT_S = float(os.environ.get("OCOP_HEADER_TIMEOUT_S", "10"))
PROTOCOL_PATH = "shared.server:GuardedHttpToolsProtocol"

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


def _raw_problem(status: int, type_: str, title: str, detail: str) -> bytes:
    body = orjson.dumps(problem_body(status, type_, title, detail))
    head = b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % (
        status,
        _REASONS[status],
        PROBLEM_MEDIA_TYPE.encode(),
        len(body),
    )
    return head + body


class CoalescingTransport:
    """A transport whose writes within one turn of the event loop go out as one ``write``.

    uvicorn writes a response's status line and headers, then its body, each straight to the socket:
    two system calls per answer, the first the dearest part of a small proxied read (py-spy: a tenth
    of the gateway's CPU under load). Held until the loop's next turn, a head and the body sent right
    after it leave together; a streamed body's chunks still leave as they come, a turn later.
    """

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        """Queue ``data``; the first write of a turn schedules the flush."""
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)

    def flush(self) -> None:
        """Write what is queued, in one call."""
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending = []
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        """Flush, then close: a last answer is never lost to its connection's close."""
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        # Everything else (pause_reading, get_extra_info, is_closing, set_protocol…) is the transport's.
        return getattr(self._transport, name)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that bounds the size and the duration of each request's headers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._awaiting_headers = True
        self._header_bytes = 0
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the clock: a connection that never completes a request's headers is closed."""
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clock with the connection."""
        self._disarm_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Feed the parser, counting the bytes that arrive while the headers are still incomplete."""
        was_awaiting = self._awaiting_headers
        super().data_received(data)
        if was_awaiting and self._awaiting_headers:
            self._header_bytes += len(data)
            if self._header_bytes > MAX_HEADER_BYTES:
                self._refuse(431, "headers-too-large", "Request header fields too large",
                             f"the request's headers exceed {MAX_HEADER_BYTES} bytes")  # fmt: skip

    def on_message_begin(self) -> None:
        """A request starts: its headers must complete in time."""
        super().on_message_begin()
        self._awaiting_headers = True
        self._header_bytes = 0
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        """The headers arrived in time and within the size limit."""
        self._awaiting_headers = False
        self._disarm_header_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        """Between requests uvicorn's keep-alive timeout rules; the header clock starts with the next byte."""
        self._awaiting_headers = True
        self._header_bytes = 0
        super().on_response_complete()

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(HEADER_TIMEOUT_S, self._headers_timed_out)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if self._awaiting_headers:
            self._refuse(408, "request-timeout", "Request timeout",
                         f"the request's headers did not arrive within {HEADER_TIMEOUT_S:g} s")  # fmt: skip

    def _refuse(self, status: int, type_: str, title: str, detail: str) -> None:
        self._disarm_header_timer()
        if self.transport.is_closing():
            return
        self.transport.write(_raw_problem(status, type_, title, detail))
        self.transport.close()
