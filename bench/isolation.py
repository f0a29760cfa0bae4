"""``python -m bench.isolation``: what isolating one test costs, for each way the suite can do it.

- rollback: a transaction on the worker's database, rolled back after the test (SAVEPOINTs inside);
- clone: ``CREATE DATABASE ... TEMPLATE`` (WAL_LOG, PostgreSQL 15's default, or FILE_COPY), the
  registry app started on it and one request served, then the app stopped and the clone dropped;
- reset: a long-lived clone put back to the template's rows after a test that committed (what the
  suite does for tests that commit, and for the real processes of the e2e tests).

Figures go to docs/ARCHITECTURE.md ("How the tests are isolated"); nothing here runs in ``make test``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.registry.commands.seed import seed
from shared import dbadmin
from shared.db import asyncpg_dsn, make_engine
from shared.topology import PROCESSES
from tests.support.database import (
    LOCAL_SERVER,
    PREFIX,
    Cloner,
    TestDatabase,
    create_migrated,
    database_at,
    drop_run_databases,
    ensure_template,
    reset,
    snapshot,
)


def _app(database: TestDatabase) -> object:
    from services.registry.config import RegistrySettings
    from services.registry.main import create_app

    return create_app(RegistrySettings(database_url=database.urls["registry"], environment="test"))


async def _serve_one(database: TestDatabase) -> None:
    """Start the registry on ``database``, answer one request that reads it, stop."""
    app = _app(database)
    async with app.router.lifespan_context(app):  # type: ignore[attr-defined]
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            assert (await client.get("/v1/admin-units/22")).status_code == 200


async def _job(connection: asyncpg.Connection) -> None:
    """A row in a table the template leaves empty."""
    await connection.execute(
        """INSERT INTO registry.import_job (id, kind, file_format, valid_rows_only, status, done, created, updated,
               unchanged, invalid, validated, created_by, created_by_role)
           VALUES (gen_random_uuid(), 'entities', 'csv', false, 'succeeded', 0, 0, 0, 0, 0, 0, 'bench', 'admin')"""
    )


async def _unit_and_job(connection: asyncpg.Connection) -> None:
    """A row in a table the template fills (copied back after), and one in a table it leaves empty."""
    await connection.execute(
        """INSERT INTO registry.admin_unit (code, name, name_folded, level, unit_type, province_code)
           VALUES ('99', 'Tỉnh Thử', 'tinh thu', 'province', 'tỉnh', '99')"""
    )
    await _job(connection)


def _summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return f"{name:<46} median {statistics.median(samples) * 1000:7.1f} ms   p90 {p90 * 1000:7.1f} ms"


async def _timed(repeat: int, step: Callable[[], Awaitable[None]]) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await step()
        samples.append(time.perf_counter() - started)
    return samples


async def measure(server: str, repeat: int) -> list[str]:
    """Build a template, time each way of isolating a test ``repeat`` times, drop everything."""
    run = uuid.uuid4().hex[:8]
    passwords = {spec.name: dbadmin.new_password() for spec in PROCESSES}
    template = database_at(server, f"{PREFIX}{run}_template", passwords)
    lines = []

    async def build(database: TestDatabase) -> None:
        await asyncio.to_thread(create_migrated, database, passwords)
        await seed(database.urls["registry"], demo=False)

    started = time.perf_counter()
    await ensure_template(template, build)
    lines.append(
        f"{'template (bootstrap, migrations, reference data)':<46} {time.perf_counter() - started:.2f} s once"
    )
    cloner = Cloner(server, f"{PREFIX}{run}_bench")
    try:
        worker = await cloner.clone(template, f"{PREFIX}{run}_worker")
        engine = make_engine(worker.urls["registry"], application_name="bench-isolation", pool_size=1)

        async def rollback() -> None:
            async with engine.connect() as connection:
                transaction = await connection.begin()
                await connection.execute(text("SELECT 1"))
                sessions = async_sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
                async with sessions() as session, session.begin():
                    await session.execute(text("SELECT 1"))
                await transaction.rollback()

        await rollback()  # the pool's first connection is the worker's, not the test's
        lines.append(
            _summary("rollback: transaction + savepoint, rolled back", await _timed(repeat, rollback))
        )
        await engine.dispose()

        for strategy in ("wal_log", "file_copy"):
            cloner.strategy = strategy
            creates, serves, drops = [], [], []
            for _ in range(repeat):
                started = time.perf_counter()
                clone = await cloner.clone(template)
                created = time.perf_counter()
                await _serve_one(clone)
                served = time.perf_counter()
                await cloner.drop(clone)
                creates.append(created - started)
                serves.append(served - created)
                drops.append(time.perf_counter() - served)
            lines.append(_summary(f"clone: CREATE DATABASE ({strategy})", creates))
            lines.append(_summary(f"clone: DROP DATABASE (after {strategy})", drops))
            if strategy == "wal_log":
                lines.append(_summary("clone: registry app started, 1 request, stopped", serves))
                lines.append(
                    _summary(
                        "clone: all of it (wal_log)",
                        [c + s + d for c, s, d in zip(creates, serves, drops, strict=True)],
                    )
                )

        rows = await snapshot(worker.admin_url)
        for name, write in (
            ("reset: after a test that wrote nothing", None),
            ("reset: after a test that wrote a job", _job),
            ("reset: after a test that added a unit too", _unit_and_job),
        ):

            async def written_then_reset(
                write: Callable[[asyncpg.Connection], Awaitable[None]] | None = write,
            ) -> None:
                if write is not None:
                    connection = await asyncpg.connect(asyncpg_dsn(worker.urls["registry"]))
                    try:
                        await write(connection)
                    finally:
                        await connection.close()
                await reset(worker.admin_url, rows)

            lines.append(_summary(name, await _timed(repeat, written_then_reset)))
    finally:
        await cloner.close()
        await drop_run_databases(server, run)
    return lines


def main(argv: list[str] | None = None) -> None:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.isolation", description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=20, help="samples per way (default 20)")
    args = parser.parse_args(argv)
    server = os.environ.get("OCOP_DATABASE_URL") or LOCAL_SERVER
    load = os.getloadavg()[0]
    for line in asyncio.run(measure(server, args.repeat)):
        print(line)
    print(f"load average before the run: {load:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
