"""Rate limits at the gateway: per IP for anonymous callers, per subject with a valid token, writes and verifications apart."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from limits import parse
from limits.strategies import FixedWindowRateLimiter

from gateway import ratelimit
from gateway.config import GatewaySettings
from gateway.main import create_app
from gateway.ratelimit import EventLoopMemoryStorage
from tests.conftest import asgi_client, auth, test_jwks
from tests.support.database import TestDatabase
from tests.support.processes import free_port

NOBODY = f"http://127.0.0.1:{free_port()}"  # upstreams are down: what passes the limit gets a 502


def _settings(database: TestDatabase, **limits: str) -> GatewaySettings:
    # The gateway only pings its database: the worker's clone of the template will do.
    return GatewaySettings(
        database_url=database.urls["gateway"],
        environment="test",
        jwt_public_keys=test_jwks(),
        registry_url=NOBODY,
        scoring_url=NOBODY,
        stamps_url=NOBODY,
        rate_limit_key_prefix=f"test-{uuid.uuid4().hex}",
        **limits,
    )


@pytest.fixture
async def gateway(migrated_database: TestDatabase) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway with small limits: 3 anonymous, 5 authenticated, 2 writes per minute."""
    settings = _settings(
        migrated_database,
        rate_limit_anonymous="3/minute",
        rate_limit_authenticated="5/minute",
        rate_limit_writes="2/minute",
    )
    async for client in asgi_client(create_app(settings)):
        yield client


def _assert_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert 1 <= int(response.headers["retry-after"]) <= 60
    body = response.json()
    assert body["type"].endswith("/rate-limited")
    assert body["request_id"] == response.headers["x-request-id"]


async def test_anonymous_callers_are_limited_per_address(gateway: httpx.AsyncClient) -> None:
    statuses = [(await gateway.get("/v1/catalogue")).status_code for _ in range(3)]
    assert statuses == [502] * 3
    _assert_limited(await gateway.get("/v1/catalogue"))
    # Health checks and docs are not counted.
    assert (await gateway.get("/healthz")).status_code == 200


async def test_a_valid_token_has_its_own_budget_and_a_forged_one_does_not(gateway: httpx.AsyncClient) -> None:
    for _ in range(3):
        assert (await gateway.get("/v1/catalogue")).status_code == 502
    _assert_limited(await gateway.get("/v1/catalogue"))
    officer = auth("province_officer", "22", sub="officer-1")
    for _ in range(5):
        assert (await gateway.get("/v1/products", headers=officer)).status_code == 502
    _assert_limited(await gateway.get("/v1/products", headers=officer))
    # Another subject is counted apart; a token that does not verify counts as the address.
    assert (await gateway.get("/v1/products", headers=auth("admin", sub="admin-1"))).status_code == 502
    forged = {"Authorization": "Bearer " + officer["Authorization"].split()[1][:-4] + "AAAA"}
    _assert_limited(await gateway.get("/v1/products", headers=forged))


async def test_writes_have_a_smaller_budget_than_reads(gateway: httpx.AsyncClient) -> None:
    producer = auth("producer", str(uuid.uuid4()), sub="producer-1")
    for _ in range(2):
        assert (await gateway.post("/v1/products", json={}, headers=producer)).status_code == 502
    _assert_limited(await gateway.post("/v1/products", json={}, headers=producer))
    assert (await gateway.get("/v1/products", headers=producer)).status_code == 502


async def test_epcis_capture_and_queries_count_as_the_api(gateway: httpx.AsyncClient) -> None:
    """A partner's capture is a write of its subject; anonymous queries count against the address."""
    partner = auth("producer", str(uuid.uuid4()), sub="partner-1")
    for _ in range(2):
        assert (await gateway.post("/epcis/capture", json={}, headers=partner)).status_code == 502
    refused = await gateway.post("/epcis/capture", json={}, headers=partner)
    _assert_limited(refused)
    assert "this client's writes" in refused.json()["detail"]
    for _ in range(3):
        assert (await gateway.get("/epcis/events")).status_code == 502
    _assert_limited(await gateway.get("/epcis/events"))


# A scan token's shape (43 URL-safe characters); the services are down, so any will do here.
SCAN_PAGE = "/s/" + "A" * 43


async def test_anonymous_writes_count_against_the_address_writes_limit(gateway: httpx.AsyncClient) -> None:
    for _ in range(2):
        assert (await gateway.post(f"{SCAN_PAGE}/geo", json={"lat": 21.0, "lon": 105.8})).status_code == 502
    refused = await gateway.post(f"{SCAN_PAGE}/geo", json={"lat": 21.0, "lon": 105.8})
    _assert_limited(refused)
    assert "this address's writes" in refused.json()["detail"]
    # A consumer's report through the API shares that budget.
    _assert_limited(await gateway.post("/v1/counterfeit-reports", json={}))


async def test_scan_page_writes_share_the_address_anonymous_limit(migrated_database: TestDatabase) -> None:
    settings = _settings(migrated_database, rate_limit_anonymous="3/minute", rate_limit_writes="100/minute")
    async for client in asgi_client(create_app(settings)):
        for _ in range(2):
            assert (await client.get("/v1/catalogue")).status_code == 502
        assert (await client.post(f"{SCAN_PAGE}/geo", json={})).status_code == 502
        refused = await client.post(f"{SCAN_PAGE}/geo", json={})
        _assert_limited(refused)
        assert "this address may make 3" in refused.json()["detail"]


async def test_verifications_have_a_limit_of_their_own_per_address(migrated_database: TestDatabase) -> None:
    settings = _settings(
        migrated_database, rate_limit_anonymous="3/minute", rate_limit_writes="2/minute",
        rate_limit_verification="6/minute",
    )  # fmt: skip
    async for gateway in asgi_client(create_app(settings)):
        # Past the anonymous API limit (3): the resolver's paths and a scan's page reach the service ...
        for _ in range(2):
            assert (await gateway.get("/01/09506000134352/21/ABC123")).status_code == 502
            assert (await gateway.get("/v/ABC123")).status_code == 502
            assert (await gateway.get(SCAN_PAGE)).status_code == 502
        # ... until the address's verification limit (6), whoever the caller says it is.
        refused = await gateway.get("/v/ABC123", headers=auth("admin"))
        _assert_limited(refused)
        assert "this address's verifications may make 6" in refused.json()["detail"]
        # The API's own budget was not spent by them, and a scan's location is a write, counted as one.
        assert (await gateway.get("/v1/catalogue")).status_code == 502
        for _ in range(2):
            assert (await gateway.post(f"{SCAN_PAGE}/geo", json={})).status_code == 502
        _assert_limited(await gateway.post(f"{SCAN_PAGE}/geo", json={}))


async def test_replicas_share_counters_in_redis(migrated_database: TestDatabase) -> None:
    prefix = f"test-{uuid.uuid4().hex}"
    settings = _settings(migrated_database, rate_limit_anonymous="4/minute").model_copy(
        update={"redis_url": "redis://127.0.0.1:6379/0", "rate_limit_key_prefix": prefix}
    )
    first_app, second_app = create_app(settings), create_app(settings)
    async for first in asgi_client(first_app):
        async for second in asgi_client(second_app):
            for client in (first, second, first, second):
                assert (await client.get("/v1/catalogue")).status_code == 502
            _assert_limited(await first.get("/v1/catalogue"))
            _assert_limited(await second.get("/v1/catalogue"))


async def test_limits_can_be_switched_off_for_a_measurement(migrated_database: TestDatabase) -> None:
    settings = _settings(migrated_database, rate_limit_anonymous="1/minute").model_copy(
        update={"rate_limits_enabled": False}
    )
    async for client in asgi_client(create_app(settings)):
        statuses = [(await client.get("/v1/catalogue")).status_code for _ in range(3)]
        assert statuses == [502] * 3


class _Clock:
    """A wall clock the test moves by hand (the counters read ``time.time``)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(ratelimit, "time", fake)
    return fake


def test_in_process_counters_keep_fixed_windows(clock: _Clock) -> None:
    limiter = FixedWindowRateLimiter(EventLoopMemoryStorage())
    item = parse("2/minute")
    assert [limiter.hit(item, "ip", "10.0.0.1") for _ in range(3)] == [True, True, False]
    assert limiter.hit(item, "ip", "10.0.0.2")  # another key, its own window
    clock.now += 30
    stats = limiter.get_window_stats(item, "ip", "10.0.0.1")
    assert (stats.remaining, stats.reset_time) == (0, clock.now + 30)
    clock.now += 30  # the window has ended: the count starts again
    assert limiter.get_window_stats(item, "ip", "10.0.0.1").remaining == 2
    assert [limiter.hit(item, "ip", "10.0.0.1") for _ in range(3)] == [True, True, False]


def test_in_process_counters_drop_ended_windows(clock: _Clock) -> None:
    storage = EventLoopMemoryStorage()
    limiter = FixedWindowRateLimiter(storage)
    item = parse("5/second")
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        limiter.hit(item, "ip", address)
    clock.now += ratelimit.SWEEP_EVERY_S
    limiter.hit(item, "ip", "10.0.0.4")
    # Only the window just opened is left: a caller who never returns does not stay in memory.
    assert storage.reset() == 1
