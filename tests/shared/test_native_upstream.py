"""The gateway's own upstream client against raw HTTP/1.1 servers: what uvicorn never sends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from shared.http import NativeUpstream, Timeouts, UpstreamConnectError, UpstreamTimeout

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
Serve = Callable[[Handler], Awaitable[NativeUpstream]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[asyncio.Server] = []
    upstreams: list[NativeUpstream] = []

    async def start(handler: Handler) -> NativeUpstream:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        upstream = NativeUpstream(f"http://127.0.0.1:{port}", Timeouts(read=0.5, pool=0.5), max_connections=4)
        upstreams.append(upstream)
        return upstream

    yield start
    for upstream in upstreams:
        await upstream.aclose()
    for server in servers:
        server.close()


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


async def test_a_body_that_runs_to_the_end_of_the_connection(serve: Serve) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nno length, ")
        await writer.drain()
        writer.write(b"then the end")
        writer.close()

    upstream = await serve(handler)
    response = await upstream.send("GET", "/x", [], None)
    assert (response.status, await response.read()) == (200, b"no length, then the end")
    await response.aclose()


async def test_an_interim_answer_is_skipped_and_the_host_header_is_sent(serve: Serve) -> None:
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await _read_request(reader))
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()

    upstream = await serve(handler)
    response = await upstream.send("POST", "/things?a=1", [(b"x-test", b"1")], b"")
    assert (response.status, await response.read()) == (201, b"ok")
    await response.aclose()
    assert seen[0].startswith(b"POST /things?a=1 HTTP/1.1\r\nhost: 127.0.0.1:")
    assert b"\r\nx-test: 1\r\n" in seen[0]


async def test_a_cut_response_and_a_silent_upstream_are_errors(serve: Serve) -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc")
        await writer.drain()
        writer.close()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await asyncio.sleep(5)

    response = await (await serve(cut)).send("GET", "/", [], None)
    with pytest.raises(UpstreamConnectError):
        await response.read()
    await response.aclose()
    with pytest.raises(UpstreamTimeout):
        await (await serve(silent)).send("GET", "/", [], None)


async def test_a_kept_alive_connection_is_reused(serve: Serve) -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            try:
                await _read_request(reader)
            except asyncio.IncompleteReadError:
                return
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()

    upstream = await serve(handler)
    for _ in range(5):
        response = await upstream.send("GET", "/", [], None)
        assert await response.read() == b"ok"
        await response.aclose()
    assert connections == 1
