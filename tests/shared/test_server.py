"""The edge protocol's coalesced writes: one system call per small answer, streams still flow, nothing lost."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from shared.server import CoalescingTransport, GuardedHttpToolsProtocol


class _CountingTransport:
    """A real socket's transport that counts the writes reaching it."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


@pytest.fixture
async def connected() -> AsyncIterator[tuple[_CountingTransport, asyncio.StreamReader]]:
    accepted: asyncio.Future[asyncio.StreamReader] = asyncio.get_running_loop().create_future()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set_result(reader)

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport, _ = await asyncio.get_running_loop().create_connection(asyncio.Protocol, "127.0.0.1", port)
    yield _CountingTransport(transport), await accepted
    transport.close()
    server.close()


async def test_writes_in_one_turn_of_the_loop_reach_the_socket_as_one(
    connected: tuple[_CountingTransport, asyncio.StreamReader],
) -> None:
    counting, reader = connected
    coalescing = CoalescingTransport(counting, asyncio.get_running_loop())  # type: ignore[arg-type]
    coalescing.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    coalescing.write(b"ok")
    assert counting.writes == []
    await asyncio.sleep(0)
    assert counting.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"]
    assert await reader.readexactly(40) == b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


async def test_a_write_in_a_later_turn_leaves_on_its_own_and_close_flushes_first(
    connected: tuple[_CountingTransport, asyncio.StreamReader],
) -> None:
    counting, reader = connected
    coalescing = CoalescingTransport(counting, asyncio.get_running_loop())  # type: ignore[arg-type]
    coalescing.write(b"first")
    await asyncio.sleep(0)
    coalescing.write(b"second")
    coalescing.close()
    assert counting.writes == [b"first", b"second"]
    assert await reader.read() == b"firstsecond"
    assert coalescing.is_closing()


async def _streaming_app(scope: Scope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "http"
    if scope["path"] == "/stream":
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
        )
        # The head must reach the client although the body is not ready: the client asks for it.
        await STREAM_GATE.wait()
        await send({"type": "http.response.body", "body": b"late body", "more_body": False})
        return
    body = scope["path"].encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]}
    )
    await send({"type": "http.response.body", "body": body})


STREAM_GATE = asyncio.Event()


@pytest.fixture
async def edge_server() -> AsyncIterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        _streaming_app,
        host="127.0.0.1",
        port=port,
        http=GuardedHttpToolsProtocol,
        lifespan="off",
        log_level="error",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
        await asyncio.sleep(0.01)
    yield port
    server.should_exit = True
    await task


async def test_a_streamed_head_is_not_held_back_by_a_late_body(edge_server: int) -> None:
    STREAM_GATE.clear()
    reader, writer = await asyncio.open_connection("127.0.0.1", edge_server)
    writer.write(b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"transfer-encoding: chunked" in head
    STREAM_GATE.set()
    assert await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), 5) == b"9\r\nlate body\r\n0\r\n\r\n"
    writer.close()


async def test_keep_alive_answers_and_a_closing_answer_arrive_whole(edge_server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", edge_server)
    writer.write(
        b"GET /one HTTP/1.1\r\nhost: x\r\n\r\nGET /two HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    )
    received = await asyncio.wait_for(reader.read(), 5)  # up to the server's close
    assert received.count(b"HTTP/1.1 200 OK") == 2
    assert received.endswith(b"\r\n\r\n/two")
    assert b"\r\n\r\n/one" in received
    writer.close()
