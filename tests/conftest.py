"""Test-wide fixtures: every test that touches the database sees only its own rows.

A test runs in a transaction that is rolled back, unless it is marked ``commits`` or
``template(name)``: then it runs on the worker's clone of that template, reset after it. See
tests/support/isolation.py and docs/ARCHITECTURE.md, "How the tests are isolated".
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from shared import dbadmin
from shared.db import Database, asyncpg_dsn
from shared.events.outbox import check_every_event
from shared.events.settings import EventSettings, Subscriber
from shared.http import AsgiDeliveryClient, Delivered
from shared.security.jwt import TokenSigner
from shared.security.keys import jwks
from shared.security.principal import Principal, Role
from shared.topology import PROCESSES, SUBSCRIPTIONS
from tests.support.database import (
    LOCAL_SERVER,
    PREFIX,
    Cloner,
    TestDatabase,
    create_migrated,
    database_at,
    drop_run_databases,
    ensure_template,
    test_server,
)
from tests.support.event_schemas import check_envelope
from tests.support.isolation import Mode, Scope, WorkerDatabases
from tests.support.keys import EVENT_SECRETS, rsa_pair
from tests.support.processes import RunningProcess, running_suite

JWT_ISSUER = "ocop-gateway"
JWT_AUDIENCE = "ocop-platform"
JWT_KID = "test-1"
# Connections of each in-process app's pools: two workers share a server of 100 connections with the
# real processes (tests/support/processes.py keeps theirs small too).
IN_PROCESS_POOL = 4


def test_jwks() -> str:
    """The JWKS every process under test trusts."""
    return jwks(rsa_pair()[1], JWT_KID)


test_jwks.__test__ = False  # type: ignore[attr-defined]


@cache
def _signer() -> TokenSigner:
    return TokenSigner(rsa_pair()[0], kid=JWT_KID, issuer=JWT_ISSUER)


# Tests build some headers once, at import (tests/builders.py ADMIN): they must outlive a slow run.
TEST_TOKEN_TTL_S = 6 * 3600


def sign(principal: Principal, ttl_s: int = TEST_TOKEN_TTL_S) -> str:
    """A token the processes under test accept."""
    return _signer().sign(principal, audience=JWT_AUDIENCE, ttl_s=ttl_s)


def auth(role: Role | str, scope: str | None = None, sub: str = "tester") -> dict[str, str]:
    """Authorization header for a principal with ``role`` scoped to ``scope``."""
    return {"Authorization": f"Bearer {sign(Principal(sub=sub, role=Role(role), scope=scope))}"}


def repo_root() -> Path:
    """The repository's top folder."""
    return Path(__file__).resolve().parent.parent


# The run: one id and one set of role passwords, shared by every xdist worker


@dataclass(frozen=True)
class Run:
    """What every worker of one ``pytest`` run shares: its id (in database names) and role passwords."""

    id: str
    passwords: dict[str, str]

    def database(self, server_url: str, suffix: str) -> TestDatabase:
        """The URLs of this run's database ``suffix`` on the server."""
        return database_at(server_url, f"{PREFIX}{self.id}_{suffix}", self.passwords)

    def throwaway_name(self, label: str) -> str:
        """A new name for a database a test makes by itself (the run's sweep drops it if the test cannot)."""
        return f"{PREFIX}{self.id}_{label}_{uuid.uuid4().hex[:8]}"


RUN = pytest.StashKey[Run]()


def pytest_configure(config: pytest.Config) -> None:
    """The controller draws the run; workers receive it (pytest_configure_node)."""
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is None:
        config.stash[RUN] = Run(
            uuid.uuid4().hex[:8], {spec.name: dbadmin.new_password() for spec in PROCESSES}
        )
    else:
        config.stash[RUN] = Run(workerinput["ocop_run"], dict(workerinput["ocop_passwords"]))
    for spec in PROCESSES:
        os.environ[f"{spec.env_prefix}ENVIRONMENT"] = "test"
        os.environ[f"{spec.env_prefix}JWT_PUBLIC_KEYS"] = test_jwks()
    # Every event any test makes a service emit is checked against its schema in docs/EVENTS.md.
    check_every_event(check_envelope)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Hand the run to an xdist worker."""
    run = node.config.stash[RUN]
    node.workerinput["ocop_run"] = run.id
    node.workerinput["ocop_passwords"] = run.passwords


def pytest_unconfigure(config: pytest.Config) -> None:
    """The controller drops whatever this run left on the server (workers drop their own as they go)."""
    if hasattr(config, "workerinput") or RUN not in config.stash:
        return
    server = os.environ.get("OCOP_DATABASE_URL") or LOCAL_SERVER
    if asyncio.run(dbadmin.server_answers(server)):
        asyncio.run(drop_run_databases(server, config.stash[RUN].id))


def worker() -> str:
    """This xdist worker's id (``gw0``), or ``main`` without xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


# Templates and clones


@pytest.fixture(scope="session")
def run(pytestconfig: pytest.Config) -> Run:
    """This run."""
    return pytestconfig.stash[RUN]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The admin URL of the server the tests use: OCOP_DATABASE_URL, the local one, or an embedded one."""
    with test_server() as server_url:
        yield server_url


@pytest.fixture(scope="session")
def base_template(pg_server: str, run: Run) -> TestDatabase:
    """Roles, schemas, every migration and the reference data (administrative units): built once per run."""
    template = run.database(pg_server, "template")

    async def build(database: TestDatabase) -> None:
        from services.registry.commands.seed import seed

        await asyncio.to_thread(create_migrated, database, run.passwords)
        await seed(database.urls["registry"], demo=False)

    asyncio.run(ensure_template(template, build))
    return template


def derived_template(
    pg_server: str, run: Run, base: TestDatabase, name: str, fill: Callable[[TestDatabase], Awaitable[None]]
) -> TestDatabase:
    """A template made of ``base`` and the rows ``fill`` adds: built once per run, by the first worker."""
    template = run.database(pg_server, name)

    async def build(database: TestDatabase) -> None:
        cloner = Cloner(pg_server, template.name)
        try:
            await cloner.clone(base, template.name)
        finally:
            await cloner.close()
        await fill(database)

    asyncio.run(ensure_template(template, build))
    return template


async def in_process_registry(
    database: TestDatabase,
) -> AsyncIterator[tuple[httpx.AsyncClient, asyncpg.Connection]]:
    """The registry in-process on ``database`` and a connection as its role, to fill a template."""
    from tests.builders import filling_a_template

    connection = await asyncpg.connect(asyncpg_dsn(database.urls["registry"]))
    try:
        with filling_a_template():
            async for client in asgi_client(registry_app(database)):
                yield client, connection
    finally:
        await connection.close()


async def load_demo(database: TestDatabase) -> None:
    """``ocop seed --demo`` on ``database``: the registry's demo, then scoring's history of it, which reads
    the registry over HTTP (an in-process registry app on the same database, scoring's test key)."""
    from services.registry.commands.seed import seed
    from services.scoring.commands.seed import seed as seed_scoring
    from services.scoring.registry import RegistryClient
    from shared.security.service_tokens import ServiceIdentity

    await seed(database.urls["registry"], demo=True)
    registry, stamps = registry_app(database), stamps_app(database)
    async with registry.router.lifespan_context(registry), stamps.router.lifespan_context(stamps):
        client = RegistryClient(
            "http://registry", ServiceIdentity(_signer(), name="scoring", audience=JWT_AUDIENCE),
            timeout_s=60.0, transport=httpx.ASGITransport(app=registry),
        )  # fmt: skip
        delivered = await seed_scoring(
            database.urls["scoring"], client, events=in_process_events("scoring"),
            delivery=RoutedDelivery({"registry": registry, "stamps": stamps}),
        )  # fmt: skip
        assert delivered, "demo certificate events left undelivered"


class RoutedDelivery(AsgiDeliveryClient):
    """Delivers each event to the in-process app its destination's host names (``http://stamps/...``)."""

    def __init__(self, apps: dict[str, FastAPI]) -> None:
        super().__init__(next(iter(apps.values())))
        self._apps = {name: AsgiDeliveryClient(app) for name, app in apps.items()}

    async def post(self, url: str, body: bytes, headers: dict[str, str], **options: Any) -> Delivered:
        """POST to the app named by the URL's host."""
        return await self._apps[urlsplit(url).hostname or ""].post(url, body, headers, **options)

    async def aclose(self) -> None:
        """Close every app's client."""
        for client in self._apps.values():
            await client.aclose()
        await super().aclose()


@pytest.fixture(scope="session")
def relayed_template(pg_server: str, run: Run, base_template: TestDatabase) -> TestDatabase:
    """The base template's rows in a database of their own, for tests that run relays of their own: the
    real processes' relays (on the worker's clone of the base) would route and deliver their events."""

    async def nothing(_: TestDatabase) -> None:
        return None

    return derived_template(pg_server, run, base_template, "relayed", nothing)


@pytest.fixture(scope="session")
def demo_template(pg_server: str, run: Run, base_template: TestDatabase) -> TestDatabase:
    """The base template with the demo data set loaded (``ocop seed --demo``: registry, then scoring)."""
    return derived_template(pg_server, run, base_template, "demo", load_demo)


@pytest.fixture(scope="session")
async def worker_databases(pg_server: str, run: Run) -> AsyncIterator[WorkerDatabases]:
    """This worker's clones of the run's templates, and the registry apps serving them."""
    databases = WorkerDatabases(
        Cloner(pg_server, f"{PREFIX}{run.id}_{worker()}"), registry_app, scoring_app, stamps_app
    )
    try:
        yield databases
    finally:
        await databases.close()


@pytest.fixture(scope="session")
async def migrated_database(worker_databases: WorkerDatabases, base_template: TestDatabase) -> TestDatabase:
    """The worker's clone of the base template where rolled-back tests run.

    Between two tests it holds exactly the template's rows, so a test that only reads (the schema
    and grant checks, a gateway that only pings it) may connect to it directly.
    """
    return await worker_databases.rolled_back_database(base_template)


# What one test may touch


def _mode(request: pytest.FixtureRequest) -> Mode:
    markers = ("commits", "template")
    if "suite" in request.fixturenames or any(request.node.get_closest_marker(name) for name in markers):
        return "reset"
    return "rolled back"


@pytest.fixture
def template(request: pytest.FixtureRequest) -> TestDatabase:
    """The template this test's rows start from: ``base`` unless marked ``template(name)``."""
    marker = request.node.get_closest_marker("template")
    database: TestDatabase = request.getfixturevalue(f"{marker.args[0] if marker else 'base'}_template")
    return database


@pytest.fixture
async def scope(
    request: pytest.FixtureRequest, worker_databases: WorkerDatabases, template: TestDatabase
) -> AsyncIterator[Scope]:
    """This test's database access, isolated by what the test needs (tests/support/isolation.py)."""
    processes = "suite" in request.fixturenames
    async with worker_databases.scope(_mode(request), template, processes=processes) as chosen:
        yield chosen


@pytest.fixture
def db(scope: Scope) -> asyncpg.Connection:
    """A connection to this test's rows, as the registry's role (for set-up and for checking what is stored)."""
    return scope.db


@pytest.fixture
def database(scope: Scope) -> TestDatabase:
    """The database of a test that commits (for processes, pools and commands of its own)."""
    if scope.mode == "rolled back":
        pytest.fail("a rolled-back test may not connect by itself: mark it commits")
    return scope.database


@pytest.fixture(scope="session")
async def running_processes(
    worker_databases: WorkerDatabases, base_template: TestDatabase, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, RunningProcess]]:
    """The four real processes on free ports, on the worker's clone of the base template.

    For tests that write nothing through them (documents, health); the others use ``suite``.
    """
    kept = await worker_databases.kept_database(base_template)
    # The kept database is also the one the tests that commit use, and some of those drive the anomaly
    # detector, the lifecycle job and the EPCIS capture runner themselves: the real stamps process's own
    # would move the detector's stored watermark under them, finish a change a test stops after one chunk,
    # or store a test's capture jobs beside the test's own pass (seen once: every job closed with 0 events).
    quiet_jobs = {
        "STAMPS_ANOMALY_JOB_EVERY_S": "0", "STAMPS_LIFECYCLE_JOB_EVERY_S": "0", "STAMPS_EPCIS_JOB_EVERY_S": "0",
    }  # fmt: skip
    with running_suite(kept.database.urls, tmp_path_factory.mktemp("logs"), quiet_jobs) as processes:
        yield processes


@pytest.fixture
def suite(running_processes: dict[str, RunningProcess], scope: Scope) -> dict[str, RunningProcess]:
    """The four real processes on free ports; their database holds only this test's rows."""
    return running_processes


# The registry in-process


def registry_app(database: TestDatabase) -> FastAPI:
    """The registry app on ``database``."""
    from services.registry.config import RegistrySettings
    from services.registry.main import create_app

    return create_app(
        RegistrySettings(
            database_url=database.urls["registry"], environment="test", jwt_public_keys=test_jwks(),
            db_pool_size=IN_PROCESS_POOL, db_read_pool_size=IN_PROCESS_POOL,
            events=in_process_events("registry"),
        )
    )  # fmt: skip


def in_process_events(service: str) -> EventSettings:
    """An in-process app's events: the suite's subscriptions, the tests' secrets, no relay of its own
    (a test delivers what it needs: ``tests.builders.relay_outbox`` or a Relay it starts)."""
    subscribers = tuple(
        Subscriber(name=name, url=f"http://{name}/internal/events", types=types,
                   secret=SecretStr(EVENT_SECRETS[service]))
        for name, types in SUBSCRIPTIONS.get(service, {}).items()
    )  # fmt: skip
    accepted = {
        source: (SecretStr(EVENT_SECRETS[source]),)
        for source, subscribers_of in SUBSCRIPTIONS.items()
        if service in subscribers_of
    }
    return EventSettings(subscribers=subscribers, accepted_secrets=accepted, relay=False)


def scoring_app(database: TestDatabase, registry: FastAPI) -> FastAPI:
    """The scoring app on ``database``, calling ``registry`` in-process with the test key as its own."""
    from services.scoring.config import ScoringSettings
    from services.scoring.main import create_app

    settings = ScoringSettings(
        database_url=database.urls["scoring"], environment="test", jwt_public_keys=test_jwks(),
        db_pool_size=IN_PROCESS_POOL,
        registry_url="http://registry", service_signing_key=rsa_pair()[0], service_key_id=JWT_KID,
        certificate_job_every_s=0,  # tests run the job's passes themselves
        events=in_process_events("scoring"),
    )  # fmt: skip
    return create_app(settings, registry_transport=httpx.ASGITransport(app=registry))


async def asgi_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to ``app`` in-process, with its lifespan running."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture
async def registry_client(
    scope: Scope, worker_databases: WorkerDatabases
) -> AsyncIterator[httpx.AsyncClient]:
    """The registry in-process, seeing (and writing) only this test's rows."""
    app = await worker_databases.app(scope.database)
    started = app.state.db
    if scope.registry is not None:
        # Sessions in the test's transaction; reads outside any transaction (the public catalogue's
        # pool) stay outside it and see only committed rows: a test of those commits.
        app.state.db = Database(scope.registry.engine, scope.registry.sessionmaker, started.reads)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as c:
            yield c
    finally:
        app.state.db = started


# The scoring service in-process


@pytest.fixture
async def scoring_client(
    scope: Scope, worker_databases: WorkerDatabases, registry_client: httpx.AsyncClient
) -> AsyncIterator[httpx.AsyncClient]:
    """The scoring service in-process, seeing only this test's rows; it calls the in-process registry,
    which sees the same test's rows (``registry_client`` binds it)."""
    app = await worker_databases.scoring_app(scope.database)
    started = app.state.db
    if scope.scoring is not None:
        app.state.db = Database(scope.scoring.engine, scope.scoring.sessionmaker, started.reads)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as c:
            yield c
    finally:
        app.state.db = started


# The stamps service in-process


def stamps_app(database: TestDatabase, **settings: Any) -> FastAPI:
    """The stamps app on ``database``, its background jobs driven by the tests; ``settings`` override."""
    from services.stamps.config import StampsSettings
    from services.stamps.main import create_app

    defaults: dict[str, Any] = {
        "database_url": database.urls["stamps"], "environment": "test", "jwt_public_keys": test_jwks(),
        "db_pool_size": IN_PROCESS_POOL, "events": in_process_events("stamps"),
        "batch_job_every_s": 0,  # tests run the generation job themselves
        "anomaly_job_every_s": 0,  # and the anomaly detector
        "epcis_job_every_s": 0,  # and the EPCIS capture runner
        "lifecycle_job_every_s": 0,  # and the lifecycle's whole-batch changes
    }  # fmt: skip
    return create_app(StampsSettings(**{**defaults, **settings}))


@pytest.fixture
async def stamps_client(scope: Scope, worker_databases: WorkerDatabases) -> AsyncIterator[httpx.AsyncClient]:
    """The stamps service in-process, seeing (and writing) only this test's rows."""
    app = await worker_databases.stamps_app(scope.database)
    started = app.state.db
    if scope.stamps is not None:
        app.state.db = Database(scope.stamps.engine, scope.stamps.sessionmaker, started.reads)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as c:
            yield c
    finally:
        app.state.db = started
