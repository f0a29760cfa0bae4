"""Test databases on a real PostgreSQL: one migrated template per run, cloned for whoever needs one.

The template is created once per run (the first xdist worker to need it builds it while the others
wait on an advisory lock): roles and schemas as in production, every process migrated, the reference
data loaded. Every database a test touches is a clone of it (``CREATE DATABASE ... TEMPLATE``), so
no test ever sees rows another test wrote. See docs/ARCHITECTURE.md, "How the tests are isolated".
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from shared import dbadmin, migrate
from shared.db import asyncpg_dsn
from shared.embedded import EmbeddedPostgres
from shared.topology import PROCESSES, ProcessSpec

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
PREFIX = "ocop_t"
# The schemas whose rows a test may write; the bootstrap's own (extensions) holds none.
DATA_SCHEMAS = tuple(spec.schema for spec in PROCESSES)
QUIET_TIMEOUT_S = 30.0
QUIET_RECHECK_S = 0.02


@dataclass(frozen=True)
class TestDatabase:
    """The admin URL of one database and each process's role URL on it."""

    __test__ = False

    admin_url: str
    urls: dict[str, str]

    @property
    def name(self) -> str:
        """The database's name."""
        return dbadmin.database_of(self.admin_url)

    def renamed(self, name: str) -> TestDatabase:
        """The same server, roles and passwords on another database (a clone of this one)."""
        return TestDatabase(
            dbadmin.with_database(self.admin_url, name),
            {process: dbadmin.with_database(url, name) for process, url in self.urls.items()},
        )


def embedded_home(label: str) -> Path:
    """A fresh folder for an embedded server's data, outside pytest's temporary root.

    The server runs as its own system user and needs to traverse the folder's parents; pytest resets
    its root (/tmp/pytest-of-<user>) to mode 0700 whenever a run or an xdist worker starts, which would
    lock a running server out of its own data. /tmp itself stays traversable.
    """
    return Path(tempfile.mkdtemp(prefix=f"ocop-{label}-"))


@contextlib.contextmanager
def embedded_server(label: str = "embedded") -> Iterator[EmbeddedPostgres]:
    """A throwaway embedded server in an ``embedded_home``, removed with its folder afterwards."""
    folder = embedded_home(label)
    server = EmbeddedPostgres(folder / "pgdata", delete_on_stop=True)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def test_server() -> Iterator[str]:
    """OCOP_DATABASE_URL if set; else the local server if it answers; else an embedded one."""
    configured = os.environ.get("OCOP_DATABASE_URL")
    if configured:
        yield configured
    elif asyncio.run(dbadmin.server_answers(LOCAL_SERVER)):
        yield LOCAL_SERVER
    else:
        with embedded_server() as server:
            yield server.start()


test_server.__test__ = False  # type: ignore[attr-defined]


def maintenance_url(server_url: str) -> str:
    """The server's maintenance database, where databases are created and dropped."""
    return asyncpg_dsn(dbadmin.with_database(server_url, "postgres"))


def database_at(
    server_url: str, name: str, passwords: dict[str, str], specs: tuple[ProcessSpec, ...] = PROCESSES
) -> TestDatabase:
    """The URLs of database ``name`` on the server: the administrator's and each process role's."""
    admin_url = dbadmin.with_database(server_url, name)
    return TestDatabase(
        admin_url, {spec.name: dbadmin.role_url(admin_url, spec.role, passwords[spec.name]) for spec in specs}
    )


def create_migrated(
    database: TestDatabase, passwords: dict[str, str], specs: tuple[ProcessSpec, ...] = PROCESSES
) -> None:
    """Create the database with its roles and schemas, as ``ocop migrate`` does, and migrate every process."""
    asyncio.run(dbadmin.create_database(database.admin_url, database.name))
    asyncio.run(dbadmin.bootstrap(database.admin_url, specs, passwords))
    for spec in specs:
        migrate.upgrade(spec, database.urls[spec.name])


def drop_test_database(database: TestDatabase) -> None:
    """Drop the database, disconnecting anyone still on it."""
    asyncio.run(dbadmin.drop_database(database.admin_url, database.name))


async def ensure_template(database: TestDatabase, build: Callable[[TestDatabase], Awaitable[None]]) -> None:
    """Build the template ``database`` unless another worker of this run has built it already.

    Workers wait for each other on an advisory lock. A finished template refuses connections, so it
    can always be cloned; one that still accepts them was left half-built by a crashed worker.
    """
    connection = await asyncpg.connect(maintenance_url(database.admin_url))
    try:
        await connection.execute("SELECT pg_advisory_lock(hashtext($1))", database.name)
        allows = await connection.fetchval(
            "SELECT datallowconn FROM pg_database WHERE datname = $1", database.name
        )
        if allows is False:
            return
        if allows is True:
            await dbadmin.drop_database(database.admin_url, database.name)
        await build(database)
        await connection.execute(
            f"ALTER DATABASE {dbadmin.quote_ident(database.name)} WITH ALLOW_CONNECTIONS false"
        )
    finally:
        await connection.close()


@dataclass
class Cloner:
    """Clones of one run's templates for one worker, made and dropped over one admin connection."""

    server_url: str
    prefix: str
    specs: tuple[ProcessSpec, ...] = PROCESSES
    strategy: str = "wal_log"
    _connection: asyncpg.Connection | None = field(default=None, repr=False)
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    async def _admin(self) -> asyncpg.Connection:
        if self._connection is None or self._connection.is_closed():
            self._connection = await asyncpg.connect(maintenance_url(self.server_url))
        return self._connection

    async def clone(self, template: TestDatabase, name: str | None = None) -> TestDatabase:
        """A new database holding exactly what ``template`` holds; its grants are the template's."""
        name = name or f"{self.prefix}_{next(self._numbers)}"
        connection = await self._admin()
        database, source = dbadmin.quote_ident(name), dbadmin.quote_ident(template.name)
        await connection.execute(f"CREATE DATABASE {database} TEMPLATE {source} STRATEGY {self.strategy}")
        # Database-level privileges live in pg_database, which a clone does not copy.
        await connection.execute(dbadmin.database_grants(name, self.specs))
        return template.renamed(name)

    async def drop(self, database: TestDatabase) -> None:
        """Drop a clone, disconnecting anyone still on it."""
        await _drop(await self._admin(), database.name)

    async def close(self) -> None:
        """Close the admin connection."""
        if self._connection is not None:
            await self._connection.close()
            self._connection = None


async def _drop(connection: asyncpg.Connection, name: str) -> None:
    await connection.execute(f"DROP DATABASE IF EXISTS {dbadmin.quote_ident(name)} WITH (FORCE)")


async def drop_run_databases(server_url: str, run: str) -> list[str]:
    """Drop every database of this run (templates, worker databases, clones left by a crash)."""
    connection = await asyncpg.connect(maintenance_url(server_url))
    try:
        names = [
            row["datname"]
            for row in await connection.fetch(
                "SELECT datname FROM pg_database WHERE datname LIKE $1", f"{PREFIX}{run}%"
            )
        ]
        for name in names:
            await _drop(connection, name)
        return names
    finally:
        await connection.close()


Table = tuple[str, str]  # (schema, name)


@dataclass(frozen=True)
class Snapshot:
    """A template's rows: the tables it leaves empty, and a digest and a copy of each table it fills."""

    empty: tuple[Table, ...]
    digests: dict[Table, str]
    rows: dict[Table, bytes] = field(repr=False)


async def _tables(connection: asyncpg.Connection) -> list[Table]:
    rows = await connection.fetch(
        "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY($1::text[]) ORDER BY 1, 2",
        list(DATA_SCHEMAS),
    )
    return [(row["schemaname"], row["tablename"]) for row in rows]


def _qualified(table: Table) -> str:
    return ".".join(dbadmin.quote_ident(part) for part in table)


async def _digests(connection: asyncpg.Connection, tables: list[Table]) -> dict[Table, str | None]:
    """A fingerprint of each table's rows (their number and a sum of their hashes: no sort), in one
    statement; None for a table without rows."""
    if not tables:
        return {}
    statement = " UNION ALL ".join(
        f"SELECT {index} AS i, count(*) AS n, sum(hashtextextended(t::text, 0)) AS h FROM {_qualified(table)} t"
        for index, table in enumerate(tables)
    )
    rows = {row["i"]: row for row in await connection.fetch(statement)}
    return {
        table: f"{rows[i]['n']}:{rows[i]['h']}" if rows[i]["n"] else None for i, table in enumerate(tables)
    }


async def snapshot(admin_url: str) -> Snapshot:
    """What a fresh clone holds, to put a long-lived clone back to it after each test."""
    connection = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        empty, digests, rows = [], {}, {}
        for table, digest in (await _digests(connection, await _tables(connection))).items():
            if digest is None:
                empty.append(table)
                continue
            buffer = io.BytesIO()
            await connection.copy_from_table(table[1], schema_name=table[0], output=buffer, format="binary")
            digests[table], rows[table] = digest, buffer.getvalue()
    finally:
        await connection.close()
    return Snapshot(tuple(empty), digests, rows)


BUSY = """SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
          AND pid <> pg_backend_pid() AND state <> 'idle'"""


async def _wait_until_quiet(connection: asyncpg.Connection, *, twice: bool) -> None:
    """Until nobody else is running a statement or holding a transaction open in the database.

    ``twice``: seen quiet twice a moment apart, for real processes whose import jobs pause between
    their transactions (work started in-process has been awaited already).
    """
    deadline = time.monotonic() + QUIET_TIMEOUT_S
    quiet = 0
    while True:
        quiet = 0 if await connection.fetchval(BUSY) else quiet + 1
        if quiet == (2 if twice else 1):
            return
        if time.monotonic() > deadline:
            raise AssertionError("the database stayed busy after the test")
        await asyncio.sleep(QUIET_RECHECK_S)


async def reset(admin_url: str, template: Snapshot, *, processes: bool = False) -> list[str]:
    """Put the database back to the template's rows, once nobody works in it; the tables restored.

    Deleting the few rows a test added costs milliseconds, where dropping a clone costs a checkpoint
    (PostgreSQL 15's DROP DATABASE waits for one) and restarting the e2e processes costs seconds.
    The tables the template fills are copied back only when a test changed them. ``processes``:
    real processes worked in it too.
    """
    connection = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        await _wait_until_quiet(connection, twice=processes)
        async with connection.transaction():
            # As the administrator: foreign keys are not checked meanwhile, since every row goes back.
            await connection.execute("SET LOCAL session_replication_role = replica")
            for table in template.empty:
                await connection.execute(f"DELETE FROM {_qualified(table)}")
            now = await _digests(connection, list(template.digests))
            changed = [table for table, digest in template.digests.items() if now[table] != digest]
            for table in changed:
                await connection.execute(f"DELETE FROM {_qualified(table)}")
                await connection.copy_to_table(
                    table[1], schema_name=table[0], source=io.BytesIO(template.rows[table]), format="binary"
                )
        return [_qualified(table) for table in changed]
    finally:
        await connection.close()
