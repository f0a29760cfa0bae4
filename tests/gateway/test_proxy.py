"""Proxy mechanics against real processes: headers, streaming, 502, 504, /internal."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Iterator

import httpx
import pytest

from shared.topology import GATEWAY
from tests.support.database import TestDatabase
from tests.support.echo_app import BIG_CHUNK, BIG_CHUNKS
from tests.support.processes import RunningProcess, free_port, start_process, stop, wait_until_healthy

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=["native", "aiohttp", "httpx"])
def gateway(
    request: pytest.FixtureRequest, migrated_database: TestDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningProcess]:
    """A gateway whose stamps upstream is the echo server and whose scoring upstream is down."""
    logs = tmp_path_factory.mktemp(f"proxy-{request.param}")
    echo = start_process("tests.support.echo_app:app", "echo", free_port(), {}, logs)
    env = {
        # The gateway only pings its database: the worker's clone of the template will do.
        "GATEWAY_DATABASE_URL": migrated_database.urls["gateway"],
        "GATEWAY_STAMPS_URL": echo.url,
        "GATEWAY_SCORING_URL": f"http://127.0.0.1:{free_port()}",  # nobody listens there
        "GATEWAY_REGISTRY_URL": echo.url,
        "GATEWAY_UPSTREAM_READ_TIMEOUT_S": "1",
        "GATEWAY_UPSTREAM_CLIENT": request.param,
        "PYTHONPATH": os.getcwd(),
    }
    gw = start_process(
        "gateway.main:app", f"gateway-{request.param}", free_port(), env, logs, GATEWAY.uvicorn_args()
    )
    try:
        wait_until_healthy(echo)
        wait_until_healthy(gw)
        yield gw
    finally:
        stop([gw, echo])


async def test_hop_by_hop_headers_are_stripped_and_forwarded_headers_added(gateway: RunningProcess) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        response = await client.get(
            "/v1/stamps/echo?serial=AB%2F12&x=1",
            headers={
                "Connection": "keep-alive, X-Drop-Me", "X-Drop-Me": "1", "TE": "trailers",
                "Proxy-Authorization": "Basic abc", "X-Forwarded-For": "203.0.113.7",
                "X-Request-ID": "proxy-test-00001", "Accept-Language": "vi",
            },
        )  # fmt: skip
    assert response.status_code == 200
    echoed = response.json()
    received = dict(echoed["headers"])
    for dropped in ("x-drop-me", "te", "proxy-authorization"):
        assert dropped not in received
    assert received["accept-language"] == "vi"
    assert received["x-forwarded-for"] == "203.0.113.7, 127.0.0.1"
    assert received["x-forwarded-proto"] == "http"
    assert received["x-forwarded-host"] == f"127.0.0.1:{gateway.port}"
    assert received["x-request-id"] == "proxy-test-00001"
    assert echoed["raw_path"] == "/v1/stamps/echo"
    assert echoed["query"] == "serial=AB%2F12&x=1"
    # Hop-by-hop response headers (and those Connection lists) do not reach the client.
    assert "x-upstream-secret" not in response.headers
    assert "keep-alive" not in response.headers
    assert response.headers["x-request-id"] == "proxy-test-00001"
    assert len(response.headers.get_list("date")) == 1


async def test_one_clients_cookies_never_reach_another(gateway: RunningProcess) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as first:
        answered = await first.get("/v1/stamps/set-cookie")
    assert answered.status_code == 200
    assert "session=someone-elses" in answered.headers["set-cookie"]
    async with httpx.AsyncClient(base_url=gateway.url) as second:
        echoed = (await second.get("/v1/stamps/echo")).json()
    assert "cookie" not in dict(echoed["headers"])


async def test_head_answers_the_headers_alone_and_the_next_request_still_works(
    gateway: RunningProcess,
) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        for _ in range(3):
            # A known length and a kept-alive connection: a client that waited for those bytes would hang.
            head = await client.head("/v1/stamps/plain")
            assert head.status_code == 200
            assert head.content == b""
            assert head.headers["content-length"] == str(len(b'{"status":"ok"}'))
            echoed = await client.get("/v1/stamps/echo", params={"after": "head"})
            assert echoed.status_code == 200
            assert echoed.json()["query"] == "after=head"


async def test_options_reach_the_service_and_its_empty_answer_comes_back(gateway: RunningProcess) -> None:
    preflight = {"Origin": "https://app.example.vn", "Access-Control-Request-Method": "POST"}
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        for _ in range(2):  # a 204 has no body: the kept-alive connection must still serve the next request
            answer = await client.options("/epcis/capture", headers=preflight)
            assert answer.status_code == 204
            assert answer.content == b""
            assert (answer.headers["allow"], answer.headers["gs1-epcis-version"]) == (
                "OPTIONS, POST, GET",
                "2.0.0",
            )
            assert (answer.headers["x-seen-method"], answer.headers["x-seen-origin"]) == (
                "OPTIONS",
                "https://app.example.vn",
            )
            assert (await client.get("/v1/stamps/echo")).status_code == 200


async def test_many_concurrent_requests_each_get_their_own_answer(gateway: RunningProcess) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        answers = await asyncio.gather(*(client.get("/v1/stamps/echo", params={"n": n}) for n in range(60)))
    assert [answer.json()["query"] for answer in answers] == [f"n={n}" for n in range(60)]


async def test_large_bodies_stream_both_ways(gateway: RunningProcess) -> None:
    upload = os.urandom(3 * 1024 * 1024)

    async def chunks():  # type: ignore[no-untyped-def]
        for start in range(0, len(upload), 256 * 1024):
            yield upload[start : start + 256 * 1024]

    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        # An upload route: JSON routes stop at 1 MiB (tests/reliability/test_edge_limits.py).
        sent = await client.post("/v1/imports", content=chunks())
        downloaded = hashlib.sha256()
        size = 0
        async with client.stream("GET", "/v1/stamps/big") as response:
            async for chunk in response.aiter_raw():
                downloaded.update(chunk)
                size += len(chunk)
    assert sent.json()["body_size"] == len(upload)
    assert sent.json()["body_sha256"] == hashlib.sha256(upload).hexdigest()
    assert size == len(BIG_CHUNK) * BIG_CHUNKS
    assert downloaded.hexdigest() == hashlib.sha256(BIG_CHUNK * BIG_CHUNKS).hexdigest()


async def test_unreachable_upstream_is_a_502_problem(gateway: RunningProcess) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        response = await client.get("/v1/certificates")
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/upstream-unavailable"
    assert response.json()["request_id"] == response.headers["x-request-id"]


async def test_slow_upstream_is_a_504_problem(gateway: RunningProcess) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
        response = await client.get("/v1/stamps/slow")
    assert response.status_code == 504
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/upstream-timeout"


async def test_internal_paths_are_never_forwarded(gateway: RunningProcess) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        for path in ("/internal/events", "/v1/stamps/../../internal/events", "/%69nternal/events"):
            response = await client.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"] == "application/problem+json"
            assert "body_sha256" not in response.text


async def test_readiness_reports_the_upstream_that_is_down(gateway: RunningProcess) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["scoring"] == "unreachable"
    assert response.json()["checks"]["stamps"] == "ok"
