"""The processes under test and the read scenarios measured against them, ceiling first."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.cpu import CpuMeter, background_busy
from bench.load import LoadResult, require_loopback
from shared import dbadmin
from shared.db import asyncpg_dsn
from shared.security.jwt import TokenSigner
from shared.security.keys import generate_rsa_pair, jwks
from shared.security.principal import Principal, Role
from shared.topology import GATEWAY, PROCESSES, REGISTRY, REPO_ROOT
from tests import builders
from tests.support.database import TestDatabase, create_migrated, database_at, drop_test_database, test_server
from tests.support.processes import (
    HOST,
    RunningProcess,
    free_port,
    process_env,
    running_suite,
    start_process,
    stop,
    wait_until_healthy,
)

BASELINE = "baseline"
# The suite's gateway ("gateway") uses the default upstream client (native); these use the others.
GATEWAY_AIOHTTP = "gateway-aiohttp"
GATEWAY_HTTPX = "gateway-httpx"
# Gateways whose "registry" is the bare baseline: the hop alone, without the registry's own cost.
HOP_NATIVE = "gateway-hop-native"
HOP_AIOHTTP = "gateway-hop-aiohttp"
HOP_HTTPX = "gateway-hop-httpx"
# The suite's gateway and its hop with the rate limits switched off: the limits' cost, in the same run.
GATEWAY_LIMITS_OFF = "gateway-limits-off"
HOP_LIMITS_OFF = "gateway-hop-limits-off"
# A pause between scenarios so one run's backlog (log writes, TIME_WAIT, GC) does not bleed into the next.
SETTLE_S = 1.0


@dataclass(frozen=True)
class Scenario:
    """One measured read: which process the load hits and which processes' CPU it costs."""

    name: str
    target: str
    cpu_of: tuple[str, ...]
    reads_database: bool


SCENARIOS = (
    Scenario("bare FastAPI (ceiling)", BASELINE, (BASELINE,), reads_database=False),
    Scenario("registry direct", "registry", ("registry",), reads_database=True),
    Scenario("gateway (native) -> registry", "gateway", ("gateway", "registry"), reads_database=True),
    Scenario(
        "gateway (limits off) -> registry",
        GATEWAY_LIMITS_OFF,
        (GATEWAY_LIMITS_OFF, "registry"),
        reads_database=True,
    ),
    Scenario(
        "gateway (aiohttp) -> registry", GATEWAY_AIOHTTP, (GATEWAY_AIOHTTP, "registry"), reads_database=True
    ),
    Scenario("gateway (httpx) -> registry", GATEWAY_HTTPX, (GATEWAY_HTTPX, "registry"), reads_database=True),
    Scenario("gateway (native) -> bare", HOP_NATIVE, (HOP_NATIVE, BASELINE), reads_database=False),
    Scenario(
        "gateway (limits off) -> bare", HOP_LIMITS_OFF, (HOP_LIMITS_OFF, BASELINE), reads_database=False
    ),
    Scenario("gateway (aiohttp) -> bare", HOP_AIOHTTP, (HOP_AIOHTTP, BASELINE), reads_database=False),
    Scenario("gateway (httpx) -> bare", HOP_HTTPX, (HOP_HTTPX, BASELINE), reads_database=False),
)
# The same gateway with and without rate limits, by path: what the limits cost, as a share of req/s.
RATE_LIMIT_PAIRS = {
    "-> registry": ("gateway (native) -> registry", "gateway (limits off) -> registry"),
    "-> bare": ("gateway (native) -> bare", "gateway (limits off) -> bare"),
}


def select_scenarios(only: Sequence[str]) -> tuple[Scenario, ...]:
    """The ceiling and every scenario whose name contains one of ``only`` (all of them if it is empty)."""
    if not only:
        return SCENARIOS
    unmatched = [text for text in only if not any(text.lower() in s.name.lower() for s in SCENARIOS)]
    if unmatched:
        raise ValueError(f"no scenario name contains {', '.join(map(repr, unmatched))}")
    ceiling, *others = SCENARIOS
    return (ceiling, *(s for s in others if any(text.lower() in s.name.lower() for text in only)))


@dataclass
class ScenarioResult:
    """A scenario's load figures, its ratio to the ceiling and the server CPU it cost per request."""

    scenario: str
    load: LoadResult
    ratio_to_ceiling: float = 1.0
    cpu_ms_per_request: dict[str, float] = field(default_factory=dict)
    # Share of the whole machine busy with work that is neither ours nor PostgreSQL's: contamination.
    other_cpu_share: float | None = None
    # Share busy just before the load, with our servers idle: all of it someone else's.
    busy_before: float | None = None

    @property
    def contamination(self) -> float | None:
        """The larger sign of someone else's work on the CPUs, before or during the window."""
        signs = [share for share in (self.other_cpu_share, self.busy_before) if share is not None]
        return max(signs) if signs else None

    def as_dict(self) -> dict[str, Any]:
        """The result as plain JSON-ready data."""
        return {
            "scenario": self.scenario,
            **self.load.as_dict(),
            "ratio_to_ceiling": self.ratio_to_ceiling,
            "cpu_ms_per_request": self.cpu_ms_per_request,
            "other_cpu_share": self.other_cpu_share,
            "busy_before": self.busy_before,
        }


BENCH_KID = "bench-1"
_BENCH_KEY = generate_rsa_pair()


def pin_process_settings(*, access_log: bool) -> None:
    """Make the settings under test explicit, whatever the caller's environment says."""
    # running_suite passes our environment on to every process; stray overrides would skew the figures.
    for spec in PROCESSES:
        os.environ[f"{spec.env_prefix}ACCESS_LOG"] = "true" if access_log else "false"
        # The bench's own signing key: the set-up requests below carry tokens the processes trust.
        os.environ[f"{spec.env_prefix}JWT_PUBLIC_KEYS"] = jwks(_BENCH_KEY[1], BENCH_KID)
    os.environ["GATEWAY_UPSTREAM_CLIENT"] = "native"
    # On for every gateway but the two "limits off" ones, which switch them off themselves.
    os.environ["GATEWAY_RATE_LIMITS_ENABLED"] = "true"
    # The limits stay on (their cost is part of the figures) but one load generator on one address
    # must never be refused.
    os.environ["GATEWAY_RATE_LIMIT_ANONYMOUS"] = "10000000/minute"
    os.environ["GATEWAY_RATE_LIMIT_AUTHENTICATED"] = "10000000/minute"
    os.environ["GATEWAY_RATE_LIMIT_VERIFICATION"] = "10000000/minute"


def _auth(role: Role, scope: str | None) -> dict[str, str]:
    signer = TokenSigner(_BENCH_KEY[0], kid=BENCH_KID, issuer="ocop-gateway")
    return {
        "Authorization": f"Bearer {signer.sign(Principal(sub='bench', role=role, scope=scope), audience='ocop-platform')}"
    }


@contextlib.contextmanager
def throwaway_database() -> Iterator[TestDatabase]:
    """A migrated database of its own, dropped (and any embedded server stopped) on exit."""
    with test_server() as server_url:
        passwords = {spec.name: dbadmin.new_password() for spec in PROCESSES}
        database = database_at(server_url, f"ocop_bench_{uuid.uuid4().hex[:12]}", passwords)
        try:
            create_migrated(database, passwords)
            yield database
        finally:
            drop_test_database(database)


@contextlib.contextmanager
def processes_under_test(database: TestDatabase, log_dir: Path) -> Iterator[dict[str, RunningProcess]]:
    """The suite's four processes, the bare baseline, gateways with each upstream client or without rate limits, and those in front of the baseline."""
    with running_suite(database.urls, log_dir) as suite:
        env = process_env(database.urls, {name: running.port for name, running in suite.items()})
        python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
        baseline_port = free_port()

        def gateway(name: str, client: str, registry_url: str, *, rate_limits: bool = True) -> RunningProcess:
            # Same database, settings and flags as the suite's gateway: only the client, the upstream
            # and whether the rate limits are on vary.
            overrides = {
                "GATEWAY_UPSTREAM_CLIENT": client,
                "GATEWAY_REGISTRY_URL": registry_url,
                "GATEWAY_RATE_LIMITS_ENABLED": "true" if rate_limits else "false",
            }
            return start_process(
                GATEWAY.app, name, free_port(), {**env, **overrides}, log_dir, GATEWAY.uvicorn_args()
            )

        baseline_url = f"http://{HOST}:{baseline_port}"
        extra: dict[str, RunningProcess] = {}
        try:
            # The registry's uvicorn flags, so only the app differs from the service it bounds.
            extra[BASELINE] = start_process(
                "bench.baseline_app:app",
                BASELINE,
                baseline_port,
                {"PYTHONPATH": python_path},
                log_dir,
                REGISTRY.uvicorn_args(),
            )
            extra[GATEWAY_LIMITS_OFF] = gateway(
                GATEWAY_LIMITS_OFF, "native", suite["registry"].url, rate_limits=False
            )
            extra[GATEWAY_AIOHTTP] = gateway(GATEWAY_AIOHTTP, "aiohttp", suite["registry"].url)
            extra[GATEWAY_HTTPX] = gateway(GATEWAY_HTTPX, "httpx", suite["registry"].url)
            extra[HOP_NATIVE] = gateway(HOP_NATIVE, "native", baseline_url)
            extra[HOP_LIMITS_OFF] = gateway(HOP_LIMITS_OFF, "native", baseline_url, rate_limits=False)
            extra[HOP_AIOHTTP] = gateway(HOP_AIOHTTP, "aiohttp", baseline_url)
            extra[HOP_HTTPX] = gateway(HOP_HTTPX, "httpx", baseline_url)
            for running in extra.values():
                wait_until_healthy(running)
            yield {**suite, **extra}
        finally:
            stop(list(extra.values()))


async def _unit(database: TestDatabase) -> builders.Unit:
    connection = await asyncpg.connect(asyncpg_dsn(database.urls["registry"]))
    try:
        return await builders.unit(connection, commune_name="Xã Đo Tải")
    finally:
        await connection.close()


def create_product(registry_url: str, database: TestDatabase) -> str:
    """Register and certify the product every read scenario fetches (its public catalogue record)."""
    require_loopback(registry_url)
    unit = asyncio.run(_unit(database))
    with httpx.Client(base_url=registry_url, timeout=10) as client:
        entity = client.post(
            "/v1/entities",
            json={"entity_type": "cooperative", "legal_name": "Hợp tác xã Lâm sản Ba Chẽ (bench)",
                  "tax_code": builders.tax_code(), "representative_name": "Nguyễn Thị Hoa",
                  "commune_code": unit.commune_code},
            headers=_auth(Role.commune_officer, unit.commune_code),
        )  # fmt: skip
        entity.raise_for_status()
        entity_id = str(entity.json()["id"])
        product = client.post(
            "/v1/products",
            json={"entity_id": entity_id, "name": "Rượu ba kích Quảng Ninh (bench)", "product_set": 14,
                  "description": "Rượu ngâm củ ba kích tím Ba Chẽ."},
            headers=_auth(Role.producer, entity_id),
        )  # fmt: skip
        product.raise_for_status()
        product_id = str(product.json()["id"])
        # Certified as scoring's relay would tell the registry: a signed scoring.certificate.issued event.
        body, headers = builders.signed_event(
            "scoring.certificate.issued",
            {"product_id": product_id, "ocop_star": 4, "certificate_number": f"BENCH-{product_id}",
             "issuing_authority": "Ủy ban nhân dân tỉnh Đo Tải", "issued_on": "2026-01-15",
             "expires_on": "2029-01-15", "level": "province", "status": "active"},
        )  # fmt: skip
        client.post("/internal/events", content=body, headers=headers).raise_for_status()
    return product_id


def read_url(running: RunningProcess, product_id: str) -> str:
    """The URL of the product read on one process, checked to answer 200 before any load."""
    url = f"{running.url}/v1/catalogue/{product_id}"
    require_loopback(url)
    response = httpx.get(url, timeout=10)
    if response.status_code != 200:
        raise RuntimeError(
            f"{running.name}: GET {url} answered {response.status_code}: {response.text[:500]}"
        )
    return url


def _other_share(meter: CpuMeter, measured: LoadResult) -> float | None:
    if meter.machine_s is None:
        return None
    # wrk started and ended inside the window, so the meter never saw it; our own Python client it did.
    ours = meter.ours_s + (measured.client_cpu_s if measured.tool == "wrk" else 0.0)
    capacity = measured.duration_s * (os.cpu_count() or 1)
    return max(0.0, meter.machine_s - ours) / capacity


def run_scenarios(
    processes: dict[str, RunningProcess],
    product_id: str,
    database: str,
    load: Callable[..., LoadResult],
    *,
    scenarios: Sequence[Scenario] = SCENARIOS,
    connections: int,
    duration_s: float,
    warmup_s: float,
    report: Callable[[ScenarioResult], None],
) -> list[ScenarioResult]:
    """Measure every scenario in turn; ratios are to the first (the ceiling)."""
    urls = {scenario.name: read_url(processes[scenario.target], product_id) for scenario in scenarios}
    results: list[ScenarioResult] = []
    for scenario in scenarios:
        # The previous scenario's backlog settles first; then a second of nothing from us tells
        # whether someone else is using the machine.
        time.sleep(SETTLE_S)
        busy_before = background_busy()
        meter = CpuMeter({name: processes[name].process.pid for name in scenario.cpu_of}, database)
        measured = load(
            urls[scenario.name],
            connections=connections,
            duration_s=duration_s,
            warmup_s=warmup_s,
            on_window=meter,
        )
        used = {**meter.server_s, **({"postgres": meter.postgres_s} if scenario.reads_database else {})}
        ceiling_rps = results[0].load.rps if results else measured.rps
        result = ScenarioResult(
            scenario.name,
            measured,
            ratio_to_ceiling=measured.rps / ceiling_rps if ceiling_rps else float("nan"),
            cpu_ms_per_request={
                name: seconds * 1000 / measured.requests if measured.requests else float("nan")
                for name, seconds in used.items()
            },
            other_cpu_share=_other_share(meter, measured),
            busy_before=busy_before,
        )
        results.append(result)
        report(result)
    return results
