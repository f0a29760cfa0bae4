"""Database access: one async engine and sessionmaker per service, the request owns the transaction.

Public reads that need neither a transaction nor the ORM go through ``Database.reads``, a plain asyncpg
pool: one round trip per statement, no session, no reset query on release.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, cast

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import BindParameter, MetaData, literal_column, text
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.sql import Select, visitors

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


async def _keep_session_state(connection: asyncpg.Connection) -> None:
    """Release without asyncpg's reset query (RESET ALL, UNLISTEN, ...): reads leave no state behind."""


async def create_read_pool(
    url: str, *, application_name: str, min_size: int, max_size: int, statement_timeout_ms: int = 15_000
) -> asyncpg.Pool:
    """A pool of at most ``max_size`` connections kept open, for single statements outside transactions.

    Sized to the concurrency PostgreSQL can serve, not to the number of clients: requests beyond
    ``max_size`` wait for a connection (cheap) instead of opening and closing one each (a backend
    start costs PostgreSQL more CPU than the read itself).
    """
    pool = await asyncpg.create_pool(
        asyncpg_dsn(url),
        min_size=min_size,
        max_size=max_size,
        reset=_keep_session_state,
        server_settings={
            "application_name": application_name,
            "statement_timeout": str(statement_timeout_ms),
        },
    )
    if pool is None:  # only when awaited inside its own init, which we never do
        raise RuntimeError("asyncpg returned no pool")
    return pool


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
    reads: asyncpg.Pool | None = None

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


async def get_read_pool(request: Request) -> asyncpg.Pool:
    """The service's pool of untransacted reads (opened in lifespan)."""
    database: Database = request.app.state.db
    if database.reads is None:
        raise RuntimeError("this service opened no read pool (db_read_pool_size is 0)")
    return database.reads


ReadPoolDep = Annotated[asyncpg.Pool, Depends(get_read_pool)]
