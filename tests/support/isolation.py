"""How each test gets rows of its own: a transaction rolled back, or a database reset after it.

- rolled back (the default): a transaction on the worker's clone of the base template, rolled back
  after the test; the in-process registry's sessions are bound to it and become savepoints;
- reset (``@pytest.mark.commits``, ``@pytest.mark.template(name)``, the e2e tests' real processes):
  the worker's long-lived clone of a template, used as production uses a database; after the test,
  once its background work has ended, the rows it added are deleted and any table the template fills
  that it changed is copied back.

Either way a test starts from exactly the template's rows. Why not a fresh clone per test: see
docs/ARCHITECTURE.md, "How the tests are isolated" (``python -m bench.isolation`` measures it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Literal

import asyncpg
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from shared.db import Database, asyncpg_dsn, make_engine
from tests.support.database import Cloner, Snapshot, TestDatabase, reset, snapshot

Mode = Literal["rolled back", "reset"]
LEFTOVER_TIMEOUT_S = 30.0


@dataclass
class Scope:
    """What one test may touch: its connection (as the registry's role) and its database."""

    mode: Mode
    db: asyncpg.Connection
    database: TestDatabase
    registry: Database | None = None  # rolled back: the registry's sessions, bound to the test's transaction
    scoring: Database | None = (
        None  # rolled back: the scoring service's, bound to its own rolled-back transaction
    )
    stamps: Database | None = None  # rolled back: the stamps service's, likewise


@dataclass
class Kept:
    """A worker's long-lived clone of a template and the rows the template holds."""

    database: TestDatabase
    template: Snapshot


@dataclass
class WorkerDatabases:
    """One xdist worker's clones of the run's templates, and the registry apps serving them."""

    cloner: Cloner
    make_app: Callable[[TestDatabase], FastAPI]
    make_scoring_app: Callable[[TestDatabase, FastAPI], FastAPI]
    make_stamps_app: Callable[[TestDatabase], FastAPI]
    _rolled_back: tuple[TestDatabase, AsyncEngine, AsyncEngine, AsyncEngine] | None = None
    _kept: dict[str, Kept] = field(default_factory=dict)
    _apps: dict[str, FastAPI] = field(default_factory=dict)
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    async def rolled_back_database(self, template: TestDatabase) -> TestDatabase:
        """The clone rolled-back tests run on: the same the tests that commit reset after them, so it
        holds only the template's rows between any two tests."""
        if self._rolled_back is None:
            database = (await self.kept_database(template)).database
            engine = make_engine(database.urls["registry"], application_name="test", pool_size=2)
            self._stack.push_async_callback(engine.dispose)
            scoring = make_engine(database.urls["scoring"], application_name="test", pool_size=2)
            self._stack.push_async_callback(scoring.dispose)
            stamps = make_engine(database.urls["stamps"], application_name="test", pool_size=2)
            self._stack.push_async_callback(stamps.dispose)
            self._rolled_back = database, engine, scoring, stamps
        return self._rolled_back[0]

    async def kept_database(self, template: TestDatabase) -> Kept:
        """The worker's long-lived clone of ``template``, reset after every test that uses it."""
        if template.name not in self._kept:
            database = await self.cloner.clone(
                template, f"{self.cloner.prefix}_{template.name.rsplit('_', 1)[1]}"
            )
            self._stack.push_async_callback(self.cloner.drop, database)
            self._kept[template.name] = Kept(database, await snapshot(database.admin_url))
        return self._kept[template.name]

    async def app(self, database: TestDatabase) -> FastAPI:
        """The registry app serving a long-lived clone, started once."""
        if database.name not in self._apps:
            app = self.make_app(database)
            await self._stack.enter_async_context(app.router.lifespan_context(app))
            self._apps[database.name] = app
        return self._apps[database.name]

    async def scoring_app(self, database: TestDatabase) -> FastAPI:
        """The scoring app serving a long-lived clone, calling the registry app of the same clone in-process."""
        key = f"scoring:{database.name}"
        if key not in self._apps:
            app = self.make_scoring_app(database, await self.app(database))
            await self._stack.enter_async_context(app.router.lifespan_context(app))
            self._apps[key] = app
        return self._apps[key]

    async def stamps_app(self, database: TestDatabase) -> FastAPI:
        """The stamps app serving a long-lived clone, started once."""
        key = f"stamps:{database.name}"
        if key not in self._apps:
            app = self.make_stamps_app(database)
            await self._stack.enter_async_context(app.router.lifespan_context(app))
            self._apps[key] = app
        return self._apps[key]

    @contextlib.asynccontextmanager
    async def scope(
        self, mode: Mode, template: TestDatabase, *, processes: bool = False
    ) -> AsyncIterator[Scope]:
        """The test's database access in ``mode``, undone when the test ends (``processes``: real
        processes work in it too)."""
        if mode == "rolled back":
            async with self._rolled_back_scope(template) as rolled_back:
                yield rolled_back
            return
        kept = await self.kept_database(template)
        # Started before looking at what runs: its lifespan's own tasks (the stalled-job sweep) are not
        # the test's to wait for.
        await self.app(kept.database)
        running = asyncio.all_tasks()
        connection = await asyncpg.connect(asyncpg_dsn(kept.database.urls["registry"]))
        try:
            yield Scope(mode, connection, kept.database)
        finally:
            await connection.close()
            # Work the test started in this process (an import job) ends before its rows are removed.
            leftovers = asyncio.all_tasks() - running - {asyncio.current_task()}
            _, pending = await asyncio.wait(leftovers, timeout=LEFTOVER_TIMEOUT_S) if leftovers else ((), ())
            for task in pending:
                task.cancel()
            await reset(kept.database.admin_url, kept.template, processes=processes)
            assert not pending, f"work the test started still ran {LEFTOVER_TIMEOUT_S:.0f} s later: {pending}"

    @contextlib.asynccontextmanager
    async def _rolled_back_scope(self, template: TestDatabase) -> AsyncIterator[Scope]:
        database = await self.rolled_back_database(template)
        assert self._rolled_back is not None
        _, engine, scoring_engine, stamps_engine = self._rolled_back
        async with (
            engine.connect() as connection,
            scoring_engine.connect() as scoring_connection,
            stamps_engine.connect() as stamps_connection,
        ):
            transaction = await connection.begin()
            scoring_transaction = await scoring_connection.begin()
            stamps_transaction = await stamps_connection.begin()
            # The driver sends BEGIN with the first statement: send it now, before the test's raw SQL.
            await connection.execute(text("SELECT 1"))
            raw = await connection.get_raw_connection()
            sessions = async_sessionmaker(
                bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
            )
            scoring_sessions = async_sessionmaker(
                bind=scoring_connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
            )
            stamps_sessions = async_sessionmaker(
                bind=stamps_connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
            )
            try:
                yield Scope(
                    "rolled back", raw.driver_connection, database, Database(engine, sessions),  # type: ignore[arg-type]
                    Database(scoring_engine, scoring_sessions), Database(stamps_engine, stamps_sessions),
                )  # fmt: skip
            finally:
                await stamps_transaction.rollback()
                await scoring_transaction.rollback()
                await transaction.rollback()

    async def close(self) -> None:
        """Stop the apps, close the pools, drop the clones."""
        await self._stack.aclose()
        await self.cloner.close()
