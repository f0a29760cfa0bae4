"""Slow and oversized clients cannot take the API down: a real gateway in front of the real registry.

The gateway under test runs with short timeouts (2 s for headers and for a pausing body) so each test
finishes in seconds; every socket has its own deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator

import httpx
import psutil
import pytest

from shared.topology import GATEWAY
from tests.support.database import TestDatabase
from tests.support.processes import RunningProcess, free_port, start_process, stop, wait_until_healthy

pytestmark = pytest.mark.e2e

TIMEOUT_S = 2
SOCKET_DEADLINE_S = 15


@pytest.fixture(scope="module")
def edge(
    running_processes: dict[str, RunningProcess],
    migrated_database: TestDatabase,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningProcess]:
    """A gateway with 2-second header and body timeouts, in front of the suite's services."""
    env = {
        # The gateway only pings its database: the worker's clone of the template will do.
        "GATEWAY_DATABASE_URL": migrated_database.urls["gateway"],
        "GATEWAY_ENVIRONMENT": "test",
        "GATEWAY_REGISTRY_URL": running_processes["registry"].url,
        "GATEWAY_SCORING_URL": running_processes["scoring"].url,
        "GATEWAY_STAMPS_URL": running_processes["stamps"].url,
        "GATEWAY_BODY_READ_TIMEOUT_S": str(TIMEOUT_S),
        "OCOP_HEADER_TIMEOUT_S": str(TIMEOUT_S),
        "GATEWAY_RATE_LIMIT_ANONYMOUS": "100000/minute",
        "GATEWAY_MAX_CONCURRENT_PER_ADDRESS": "20",
    }
    gateway = start_process(
        GATEWAY.app, "edge", free_port(), env, tmp_path_factory.mktemp("edge"), GATEWAY.uvicorn_args()
    )
    try:
        wait_until_healthy(gateway)
        yield gateway
    finally:
        stop([gateway])


def _connect(edge: RunningProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", edge.port), timeout=SOCKET_DEADLINE_S)
    sock.settimeout(SOCKET_DEADLINE_S)
    return sock


def _read_answer(sock: socket.socket) -> bytes:
    chunks = []
    with contextlib.suppress(ConnectionResetError, TimeoutError):
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def test_a_declared_oversized_body_is_413_before_it_is_sent(edge: RunningProcess) -> None:
    with _connect(edge) as sock:
        started = time.monotonic()
        sock.sendall(
            b"POST /v1/entities HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1073741824\r\n\r\n{"
        )
        answer = _read_answer(sock)
    assert _status(answer) == 413
    assert b"application/problem+json" in answer
    assert b"body-too-large" in answer
    assert time.monotonic() - started < TIMEOUT_S


def test_a_chunked_body_is_cut_off_at_the_cap_with_memory_unchanged(edge: RunningProcess) -> None:
    gateway = psutil.Process(edge.process.pid)
    before = gateway.memory_info().rss
    chunk = b"a" * 65536
    with _connect(edge) as sock:
        sock.sendall(
            b"POST /v1/entities HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        sent = 0
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while sent < 200 * 1024 * 1024:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        answer = _read_answer(sock)
    assert _status(answer) == 413
    assert sent < 200 * 1024 * 1024, "the gateway read the whole body instead of stopping at the cap"
    assert gateway.memory_info().rss - before < 30 * 1024 * 1024


def test_a_body_that_stops_arriving_is_408(edge: RunningProcess) -> None:
    with _connect(edge) as sock:
        sock.sendall(
            b"POST /v1/entities HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"legal'
        )
        started = time.monotonic()
        answer = _read_answer(sock)
    assert _status(answer) == 408
    assert TIMEOUT_S - 0.5 <= time.monotonic() - started < TIMEOUT_S + 5


def test_headers_that_trickle_are_408_and_idle_connections_are_closed(edge: RunningProcess) -> None:
    with _connect(edge) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /v1/catalogue HTTP/1.1\r\nHost: x\r\n")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(10):
                sock.sendall(b"X")
                time.sleep(0.5)
        answer = _read_answer(sock)
    assert _status(answer) == 408
    assert time.monotonic() - started < TIMEOUT_S + 5
    with _connect(edge) as idle:
        started = time.monotonic()
        assert _status(_read_answer(idle)) == 408
        assert time.monotonic() - started < TIMEOUT_S + 5


def test_an_oversized_header_is_431(edge: RunningProcess) -> None:
    with _connect(edge) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(
                b"GET /v1/catalogue HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1024 * 1024) + b"\r\n\r\n"
            )
        answer = _read_answer(sock)
    assert _status(answer) == 431
    assert b"headers-too-large" in answer


def _connect_from(edge: RunningProcess, address: str) -> socket.socket:
    sock = socket.socket()
    sock.settimeout(SOCKET_DEADLINE_S)
    sock.bind((address, 0))
    sock.connect(("127.0.0.1", edge.port))
    return sock


async def test_slow_clients_do_not_starve_the_catalogue(edge: RunningProcess) -> None:
    slow = []
    # 100 slow uploads from 25 addresses (127.0.0.2 … 127.0.0.26), four each: within every address's limit.
    for index in range(100):
        sock = _connect_from(edge, f"127.0.0.{2 + index % 25}")
        sock.sendall(
            b"POST /v1/entities HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
        )
        slow.append(sock)
    try:
        # 200 catalogue clients at once, from ten more addresses (twenty each, within their limit).
        clients = [
            httpx.AsyncClient(
                base_url=edge.url, timeout=10,
                transport=httpx.AsyncHTTPTransport(local_address=f"127.0.1.{n}", limits=httpx.Limits(max_connections=20)),
            )
            for n in range(1, 11)
        ]  # fmt: skip
        try:
            answers = await asyncio.gather(
                *(clients[n % 10].get("/v1/catalogue", params={"limit": 5}) for n in range(200))
            )
        finally:
            await asyncio.gather(*(client.aclose() for client in clients))
        assert {answer.status_code for answer in answers} == {200}
    finally:
        for sock in slow:
            sock.close()


def test_one_address_cannot_hold_more_than_its_share(edge: RunningProcess) -> None:
    held = []
    try:
        for _ in range(20):
            sock = _connect_from(edge, "127.0.0.99")
            sock.sendall(
                b"POST /v1/entities HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000\r\n\r\n{"
            )
            held.append(sock)
        time.sleep(0.5)
        with _connect_from(edge, "127.0.0.99") as extra:
            extra.sendall(b"GET /v1/catalogue HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = _read_answer(extra)
        assert _status(answer) == 429
        assert b"too-many-concurrent-requests" in answer
        with _connect_from(edge, "127.0.0.100") as other:
            other.sendall(b"GET /v1/catalogue HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert _status(_read_answer(other)) == 200
    finally:
        for sock in held:
            sock.close()
