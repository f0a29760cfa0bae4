"""Integration events survive faults, with real processes: a relay killed with SIGKILL in the middle of a
burst of 1,000 events, and PostgreSQL killed and restarted while events are being delivered. Every
event takes effect exactly once: the registry's inbox holds each id once and each product's history
shows its certification once.

The burst is 1,000 ``scoring.certificate.issued`` events written into scoring's outbox in one
transaction (as the service's own writes do); scoring's relay (inside the scoring process) delivers
them to the registry process over HTTP. Every wait polls against a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest

from services.scoring.outbox import OUTBOX
from shared.db import Database, asyncpg_dsn
from shared.events.envelope import Envelope
from tests import builders
from tests.builders import PRODUCT_COLUMNS
from tests.conftest import Run
from tests.support.database import TestDatabase, create_migrated, drop_test_database, embedded_server
from tests.support.processes import RunningProcess, reaping_orphans, running_suite, stop, wait_until_healthy

pytestmark = pytest.mark.e2e

T = TypeVar("T")
BURST = 1000
DEADLINE_S = 180.0
POLL_S = 0.05


async def eventually(
    check: Callable[[], Awaitable[T | None]], what: str, deadline_s: float = DEADLINE_S
) -> T:
    """The check's first non-None value, polling until the deadline."""
    try:
        async with asyncio.timeout(deadline_s):
            while True:
                if (value := await check()) is not None:
                    return value
                await asyncio.sleep(POLL_S)
    except TimeoutError:
        raise AssertionError(f"{what}: not within {deadline_s:.0f} s") from None


async def products_of_a_new_producer(
    gateway: httpx.AsyncClient, db: asyncpg.Connection, count: int
) -> list[uuid.UUID]:
    """``count`` products of one new producer, registered by an import through the gateway."""
    owner = await builders.producer(gateway, db)
    rows = [builders.product_row(owner.entity["tax_code"]) for _ in range(count)]
    await builders.imported(gateway, "products", builders.csv_file(PRODUCT_COLUMNS, rows))
    ids = await db.fetch("SELECT id FROM registry.product WHERE entity_id = $1", uuid.UUID(owner.entity_id))
    assert len(ids) == count
    return [row["id"] for row in ids]


def certificate_issued(product_id: uuid.UUID, number: int) -> Envelope:
    """The event scoring emits when it issues a 4★ provincial certificate for ``product_id``."""
    return OUTBOX.envelope(
        type="scoring.certificate.issued", subject=f"product/{product_id}",
        data={
            "certificate_id": str(uuid.uuid4()), "version": 1, "product_id": str(product_id),
            "entity_id": str(uuid.uuid4()), "province_code": "22", "ocop_star": 4,
            "certificate_number": f"OCOP-FAULT-{uuid.uuid4().hex[:12]}-{number:04d}",
            "issuing_authority": "Ủy ban nhân dân tỉnh Quảng Ninh", "decision_number": f"{number}/QĐ-UBND",
            "criteria_version": "148+1489", "issued_on": "2026-01-15", "expires_on": "2029-01-15",
            "level": "province", "status": "active", "revocation_ground": None, "superseded_by": None,
        },
    )  # fmt: skip


async def emit_burst(scoring_url: str, product_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """Write one certificate event per product into scoring's outbox in one transaction; their ids."""
    envelopes = [certificate_issued(product_id, number) for number, product_id in enumerate(product_ids)]
    store = Database.connect(scoring_url, application_name="burst", pool_size=1, max_overflow=0)
    try:
        async with store.sessionmaker.begin() as session:
            await OUTBOX.emit_many(session, envelopes)
    finally:
        await store.dispose()
    return [envelope.id for envelope in envelopes]


async def applied(registry: asyncpg.Connection, event_ids: list[uuid.UUID]) -> int:
    """How many of the events the registry's inbox has recorded."""
    return int(
        await registry.fetchval("SELECT count(*) FROM registry.inbox_event WHERE id = ANY($1)", event_ids)
    )


async def assert_exactly_once(
    registry: asyncpg.Connection,
    scoring: asyncpg.Connection,
    event_ids: list[uuid.UUID],
    products: list[uuid.UUID],
) -> None:
    """Every event recorded once, every product certified once, every delivery done."""
    assert await applied(registry, event_ids) == len(event_ids)
    certified = await registry.fetch(
        """SELECT product_id, count(*) AS times FROM registry.product_change
           WHERE product_id = ANY($1) AND action = 'certificate_active' GROUP BY product_id""",
        products,
    )
    assert len(certified) == len(products)
    assert {row["times"] for row in certified} == {1}
    assert await registry.fetchval(
        "SELECT count(*) FROM registry.product WHERE id = ANY($1) AND status = 'certified' AND ocop_star = 4",
        products,
    ) == len(products)

    # The registry's deliveries (the stamps service takes the same events; its own go on at their pace),
    # recorded by the relay once its posts of a batch are answered: a moment after the last effect.
    async def recorded() -> dict[str, int] | None:
        rows = await scoring.fetch(
            """SELECT status, count(*) AS n FROM scoring.outbox_delivery
               WHERE event_id = ANY($1) AND destination = 'registry' GROUP BY status""",
            event_ids,
        )
        statuses = {row["status"]: row["n"] for row in rows}
        return statuses if statuses.get("delivered") == len(event_ids) else None

    assert await eventually(recorded, "every delivery to the registry recorded", deadline_s=60) == {
        "delivered": len(event_ids)
    }


@contextlib.contextmanager
def relay_settings(running: RunningProcess, **settings: str) -> Iterator[None]:
    """``running`` restarted with these EVENTS__ settings for the block, then as it was."""
    original = dict(running.env)
    stop([running])
    running.env = {
        **original,
        **{f"SCORING_EVENTS__{name.upper()}": value for name, value in settings.items()},
    }
    try:
        running.process = _relaunch(running)
        wait_until_healthy(running)
        yield
    finally:
        stop([running])
        running.env = original
        running.process = _relaunch(running)
        wait_until_healthy(running)


def _relaunch(running: RunningProcess) -> Any:
    from tests.support.processes import _launch

    return _launch(running.command, running.env, running.log, "ab")


@contextlib.asynccontextmanager
async def connections(database: TestDatabase) -> AsyncIterator[tuple[asyncpg.Connection, asyncpg.Connection]]:
    """Connections as the registry's and as scoring's role."""
    registry = await asyncpg.connect(asyncpg_dsn(database.urls["registry"]))
    scoring = await asyncpg.connect(asyncpg_dsn(database.urls["scoring"]))
    try:
        yield registry, scoring
    finally:
        await registry.close()
        await scoring.close()


async def test_a_relay_killed_mid_burst_delivers_every_event_exactly_once(
    suite: dict[str, RunningProcess], db: asyncpg.Connection, database: TestDatabase
) -> None:
    async with httpx.AsyncClient(base_url=suite["gateway"].url, timeout=60) as gateway:
        products = await products_of_a_new_producer(gateway, db, BURST)
    scoring = suite["scoring"]
    async with connections(database) as (registry_db, scoring_db):
        # Small batches, few at a time: the burst takes long enough to be cut in its middle.
        with relay_settings(scoring, batch_size="20", concurrency="4"):
            event_ids = await emit_burst(database.urls["scoring"], products)
            await eventually(
                lambda: _at_least(applied(registry_db, event_ids), BURST // 10),
                "a tenth of the burst applied",
            )
            scoring.process.send_signal(signal.SIGKILL)
            scoring.process.wait(timeout=10)
            at_kill = await applied(registry_db, event_ids)
            assert at_kill < BURST, "the burst ended before the kill: nothing was cut"
            scoring.process = _relaunch(scoring)  # the same relay settings, from where the kill left it
            wait_until_healthy(scoring)
            await eventually(
                lambda: _at_least(applied(registry_db, event_ids), BURST), "the whole burst applied"
            )
        await assert_exactly_once(registry_db, scoring_db, event_ids, products)


async def _at_least(count: Awaitable[int], target: int) -> int | None:
    value = await count
    return value if value >= target else None


@pytest.mark.xdist_group("embedded-postgres")
async def test_postgresql_restarted_during_delivery_loses_and_doubles_nothing(
    run: Run, tmp_path: Path
) -> None:
    """A server of its own (the shared one serves other tests): killed with SIGKILL mid-delivery, restarted."""
    with reaping_orphans(), embedded_server("event-faults") as server:
        database = run.database(server.start(), "faults")
        await asyncio.to_thread(create_migrated, database, run.passwords)
        try:
            with running_suite(database.urls, tmp_path) as suite:
                await _deliver_across_a_restart(server, suite, database)
        finally:
            server.ensure_running()
            await _answering(database)
            await asyncio.to_thread(drop_test_database, database)


async def _deliver_across_a_restart(
    server: Any, suite: dict[str, RunningProcess], database: TestDatabase
) -> None:
    count = 200
    async with httpx.AsyncClient(base_url=suite["gateway"].url, timeout=60) as gateway:
        registry_db = await asyncpg.connect(asyncpg_dsn(database.urls["registry"]))
        try:
            products = await products_of_a_new_producer(gateway, registry_db, count)
        finally:
            await registry_db.close()
    with relay_settings(suite["scoring"], batch_size="10", concurrency="2"):
        event_ids = await emit_burst(database.urls["scoring"], products)
        async with connections(database) as (registry_db, _):
            await eventually(
                lambda: _at_least(applied(registry_db, event_ids), count // 10), "deliveries under way"
            )
            at_kill = await applied(registry_db, event_ids)
        assert at_kill < count, "every event was delivered before the restart: nothing was cut"
        os.kill(server._server.get_pid(), signal.SIGKILL)
        await eventually(lambda: _none_if(server.running()), "the server down")
        await asyncio.sleep(1)  # the relay meets the dead server: refused connections, failed passes
        server.ensure_running()
        await _answering(database)
        async with connections(database) as (registry_db, scoring_db):
            await eventually(lambda: _at_least(applied(registry_db, event_ids), count), "every event applied")
            await assert_exactly_once(registry_db, scoring_db, event_ids, products)


async def _answering(database: TestDatabase) -> None:
    """Wait until the restarted server accepts connections (crash recovery replays its WAL first)."""

    async def connects() -> bool | None:
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            await (await asyncpg.connect(asyncpg_dsn(database.urls["registry"]))).close()
            return True
        return None

    await eventually(connects, "the restarted server accepting connections", deadline_s=60)


async def _none_if(condition: bool) -> bool | None:
    return None if condition else True
