"""A fake partner: a real HTTP/1.1 server on a free port that records what it receives and answers a set status."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass
class Received:
    """One request the partner received: its path, headers (lower-case names) and raw body."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakePartner:
    """What the partner received, and the status it answers with (change it between deliveries)."""

    port: int = 0
    status: int = 200
    received: list[Received] = field(default_factory=list)

    def url(self, path: str = "/ocop/hook") -> str:
        """The URL of ``path`` on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in lines:
                if ":" in line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.received.append(Received(request_line.split(" ")[1], headers, body))
            answer = b'{"ok":true}' if self.status < 300 else b'{"error":"partner down"}'
            writer.write(
                f"HTTP/1.1 {self.status} X\r\nContent-Type: application/json\r\nContent-Length: {len(answer)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + answer
            )
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


@contextlib.asynccontextmanager
async def fake_partner() -> AsyncIterator[FakePartner]:
    """A fake partner listening on 127.0.0.1 for the block's duration."""
    partner = FakePartner()
    server = await asyncio.start_server(partner._handle, "127.0.0.1", 0)
    partner.port = server.sockets[0].getsockname()[1]
    try:
        yield partner
    finally:
        server.close()
        await server.wait_closed()
