"""Database access: one async engine and sessionmaker per service, the request owns the transaction.

Public reads that need neither a transaction nor the ORM go through ``Database.reads``, a pool of plain
asyncpg connections: one round trip per statement, no session, no reset query on release.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar, cast

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import BindParameter, MetaData, literal_column, text
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.sql import Select, visitors

T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def schema_metadata(schema: str) -> MetaData:
    """A MetaData whose tables all live in ``schema``; search_path is never relied upon."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def async_url(url: str) -> str:
    """Normalise a postgres URL to the asyncpg driver SQLAlchemy needs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def asyncpg_dsn(url: str) -> str:
    """The same URL without the SQLAlchemy driver suffix, for asyncpg's own pool."""
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def make_engine(
    url: str,
    *,
    application_name: str,
    pool_size: int = 10,
    max_overflow: int = 0,
    statement_timeout_ms: int = 15_000,
    **kwargs: Any,
) -> AsyncEngine:
    """Create the service's engine with bounded pool and per-statement timeout."""
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=False,
        # Errors name the statement, never its parameters: those are people's names and tax codes.
        hide_parameters=True,
        connect_args={
            "server_settings": {
                "application_name": application_name,
                "statement_timeout": str(statement_timeout_ms),
            }
        },
        **kwargs,
    )


# What a connection the server dropped raises on its next use (besides a PostgresError once closed).
_BROKEN = (asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError, OSError)


class ReadPool:
    """At most ``max_size`` asyncpg connections kept open for single statements outside transactions.

    Sized to the concurrency PostgreSQL can serve, not to the number of clients: requests beyond
    ``max_size`` wait for a connection (cheap) instead of opening and closing one each (a backend
    start costs PostgreSQL more CPU than the read). Not asyncpg's Pool: it resets each connection on
    release and shields the release in a task of its own, half of the client's CPU per read (measured
    in docs/PERFORMANCE.md); reads leave no session state behind, so there is nothing to reset.
    """

    def __init__(self, dsn: str, *, min_size: int, max_size: int, server_settings: dict[str, str]) -> None:
        self._dsn = dsn
        self._min_size = min_size
        self._max_size = max_size
        self._server_settings = server_settings
        self._idle: list[asyncpg.Connection] = []
        self._waiters: deque[asyncio.Future[asyncpg.Connection]] = deque()
        self._opened = 0  # open or being opened
        self._closed = False

    async def open(self) -> ReadPool:
        """Open the first ``min_size`` connections."""
        for _ in range(self._min_size):
            self._opened += 1
            try:
                self._idle.append(await self._connect())
            except BaseException:
                self._opened -= 1
                raise
        return self

    async def _connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(self._dsn, server_settings=self._server_settings)

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection for a few statements; back to the pool after, or closed if the read was cut short."""
        if self._closed:
            raise asyncpg.InterfaceError("the read pool is closed")
        connection = await self._checkout()
        try:
            yield connection
        except (asyncio.CancelledError, *_BROKEN):
            # Cancelled mid-statement or broken: the connection's state is unknown, so it goes.
            connection.terminate()
            self._lost()
            raise
        except BaseException:
            self._checkin(connection)
            raise
        else:
            self._checkin(connection)

    async def _checkout(self) -> asyncpg.Connection:
        while self._idle:
            connection = self._idle.pop()
            if not connection.is_closed():
                return connection
            self._opened -= 1
        if self._opened < self._max_size:
            self._opened += 1
            try:
                return await self._connect()
            except BaseException:
                self._lost()
                raise
        waiter: asyncio.Future[asyncpg.Connection] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._checkin(waiter.result())  # handed over as we were cancelled: pass it on
            raise

    def _checkin(self, connection: asyncpg.Connection) -> None:
        if self._closed or connection.is_closed() or connection.is_in_transaction():
            connection.terminate()
            self._lost()
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        self._idle.append(connection)

    def _lost(self) -> None:
        """A connection is gone: a waiter, if any, opens a new one."""
        self._opened -= 1
        while self._waiters and not self._closed:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._opened += 1
                asyncio.get_running_loop().create_task(self._open_for(waiter))
                return

    async def _open_for(self, waiter: asyncio.Future[asyncpg.Connection]) -> None:
        try:
            connection = await self._connect()
        except BaseException as exc:
            self._opened -= 1
            if not waiter.done():
                waiter.set_exception(exc)
            return
        if waiter.done():
            self._checkin(connection)
        else:
            waiter.set_result(connection)

    async def run(self, read: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """``read`` on a connection; once more on another if the server had dropped that one (a restart)."""
        for attempt in (1, 2):
            async with self.acquire() as connection:
                try:
                    return await read(connection)
                except (asyncpg.PostgresError, *_BROKEN) as exc:
                    # A connection dropped while idle here fails its next statement, one way or another.
                    dropped = connection.is_closed() or isinstance(exc, _BROKEN)
                    if attempt == 2 or self._closed or not dropped:
                        raise
                    connection.terminate()
        raise AssertionError("unreachable")

    async def fetchval(self, sql: str, *arguments: Any) -> Any:
        """The first column of the first row of one statement."""
        return await self.run(lambda connection: connection.fetchval(sql, *arguments))

    async def close(self) -> None:
        """Close the idle connections now, the others when they come back."""
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.close()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(asyncpg.InterfaceError("the read pool is closed"))


async def create_read_pool(
    url: str, *, application_name: str, min_size: int, max_size: int, statement_timeout_ms: int = 15_000
) -> ReadPool:
    """The service's pool of public reads (see ReadPool), its first ``min_size`` connections open."""
    settings = {"application_name": application_name, "statement_timeout": str(statement_timeout_ms)}
    return await ReadPool(
        asyncpg_dsn(url), min_size=min_size, max_size=max_size, server_settings=settings
    ).open()


_ASYNCPG = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]


def _inline_constants(statement: Select[Any]) -> Select[Any]:
    """``statement`` with every parameter that carries its own value written into the SQL as a literal.

    A cached prepared statement gets a generic plan, and a generic plan can only use a partial index
    (``WHERE status = 'certified'``) when the statement's constants are literals, not parameters.
    """
    compiler = _ASYNCPG.statement_compiler(_ASYNCPG, None)

    def literal(element: Any, **_: Any) -> Any:
        if isinstance(element, BindParameter) and not element.required:
            rendered = compiler.render_literal_value(element.effective_value, element.type)  # type: ignore[no-untyped-call]
            return literal_column(rendered, element.type)
        return None

    return cast(Select[Any], visitors.replacement_traverse(statement, {}, literal))


@dataclass(frozen=True)
class AsyncpgStatement:
    """A SQLAlchemy Core SELECT compiled once to asyncpg's ``$n`` SQL, with its parameters' names in order.

    Executing it costs asyncpg alone: no SQLAlchemy execution context, result proxy or greenlet.
    """

    sql: str
    names: tuple[str, ...]

    @classmethod
    def compile(cls, statement: Select[Any]) -> AsyncpgStatement:
        """Compile ``statement``; it may not use expanding or literal-execute parameters."""
        compiled = _inline_constants(statement).compile(dialect=_ASYNCPG)
        if compiled.post_compile_params:
            names = sorted(parameter.key for parameter in compiled.post_compile_params)
            raise ValueError(f"parameters {names} are rendered at execution: not compilable once")
        return cls(compiled.string, tuple(compiled.positiontup or ()))

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        """The positional arguments, from ``values`` by name."""
        return [values[name] for name in self.names]


@dataclass
class Database:
    """A service's engine and sessionmaker, created in lifespan and stored on ``app.state.db``.

    ``reads`` is the asyncpg pool of untransacted public reads, where the service opened one.
    """

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    reads: ReadPool | None = None

    @classmethod
    def connect(cls, url: str, **engine_kwargs: Any) -> Database:
        """Build the engine and a sessionmaker that keeps objects usable after commit."""
        engine = make_engine(url, **engine_kwargs)
        return cls(engine, async_sessionmaker(engine, expire_on_commit=False))

    async def ping(self) -> None:
        """Run a trivial query; raises if the database cannot be reached."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Close every pooled connection."""
        if self.reads is not None:
            await self.reads.close()
        await self.engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back if it raises."""
    database: Database = request.app.state.db
    async with database.sessionmaker() as session, session.begin():
        yield session


# scope="function": commit before the response is sent, so a failed commit is the response the
# client sees (with the default "request" scope FastAPI would commit after sending a 2xx).
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_read_pool(request: Request) -> ReadPool:
    """The service's pool of untransacted reads (opened in lifespan)."""
    database: Database = request.app.state.db
    if database.reads is None:
        raise RuntimeError("this service opened no read pool (db_read_pool_size is 0)")
    return database.reads


ReadPoolDep = Annotated[ReadPool, Depends(get_read_pool)]
