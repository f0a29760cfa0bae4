"""Database bootstrap run with an administrator's connection: roles, schemas and grants."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterable

import asyncpg
from sqlalchemy.engine import URL, make_url

from shared.db import asyncpg_dsn
from shared.topology import EXTENSIONS, EXTENSIONS_SCHEMA, ProcessSpec


def quote_ident(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote an SQL string literal (for DDL, which takes no bind parameters)."""
    return "'" + value.replace("'", "''") + "'"


def new_password() -> str:
    """A random password for a service role."""
    return secrets.token_urlsafe(24)


def database_of(url: str) -> str:
    """The database name in a URL."""
    return make_url(url).database or "postgres"


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database."""
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def role_url(admin_url: str, role: str, password: str) -> str:
    """The URL a service uses: same server and database, its own role."""
    parsed: URL = make_url(admin_url).set(username=role, password=password)
    return parsed.render_as_string(hide_password=False)


async def create_database(admin_url: str, database: str) -> None:
    """Create ``database`` unless it exists (connects to the maintenance database)."""
    connection = await asyncpg.connect(asyncpg_dsn(with_database(admin_url, "postgres")))
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await connection.execute(
                f"CREATE DATABASE {quote_ident(database)} ENCODING 'UTF8' TEMPLATE template0"
            )
    finally:
        await connection.close()


async def drop_database(admin_url: str, database: str) -> None:
    """Drop ``database``, disconnecting anyone still on it."""
    connection = await asyncpg.connect(asyncpg_dsn(with_database(admin_url, "postgres")))
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {quote_ident(database)} WITH (FORCE)")
    finally:
        await connection.close()


def database_grants(database: str, specs: Iterable[ProcessSpec]) -> str:
    """SQL that lets only the processes' roles connect to ``database`` (they must exist)."""
    db = quote_ident(database)
    statements = [f"REVOKE ALL ON DATABASE {db} FROM PUBLIC"]
    statements += [f"GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {quote_ident(spec.role)}" for spec in specs]
    return ";\n".join(statements)


BOOTSTRAP_ATTEMPTS = 5


async def bootstrap(admin_url: str, specs: Iterable[ProcessSpec], passwords: dict[str, str]) -> None:
    """Give each process a login role and a schema it owns; nobody else gets rights on it."""
    specs = list(specs)
    # Roles are cluster-wide, but advisory locks are per database: bootstraps of two databases on one
    # server (parallel test workers, two migrate jobs) can still collide on a role's catalog row.
    for attempt in range(BOOTSTRAP_ATTEMPTS):
        try:
            await _bootstrap(admin_url, specs, passwords)
            return
        except asyncpg.InternalServerError as exc:
            if "concurrently updated" not in str(exc) or attempt == BOOTSTRAP_ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.05 * (attempt + 1))


async def _bootstrap(admin_url: str, specs: list[ProcessSpec], passwords: dict[str, str]) -> None:
    database = database_of(admin_url)
    connection = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        async with connection.transaction():
            # Role creation is cluster-wide and may race with another bootstrap (parallel test runs).
            await connection.execute("SELECT pg_advisory_xact_lock(4242)")
            await connection.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
            await connection.execute(f"CREATE SCHEMA IF NOT EXISTS {EXTENSIONS_SCHEMA}")
            await connection.execute(f"REVOKE ALL ON SCHEMA {EXTENSIONS_SCHEMA} FROM PUBLIC")
            for extension in EXTENSIONS:
                await connection.execute(
                    f"CREATE EXTENSION IF NOT EXISTS {extension} SCHEMA {EXTENSIONS_SCHEMA}"
                )
            for spec in specs:
                role = quote_ident(spec.role)
                password = quote_literal(passwords[spec.name])
                exists = await connection.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", spec.role)
                verb = "ALTER" if exists else "CREATE"
                await connection.execute(
                    f"{verb} ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {password}"
                )
                await connection.execute(f"GRANT USAGE ON SCHEMA {EXTENSIONS_SCHEMA} TO {role}")
                await connection.execute(
                    f"CREATE SCHEMA IF NOT EXISTS {quote_ident(spec.schema)} AUTHORIZATION {role}"
                )
                await connection.execute(f"ALTER SCHEMA {quote_ident(spec.schema)} OWNER TO {role}")
                await connection.execute(f"REVOKE ALL ON SCHEMA {quote_ident(spec.schema)} FROM PUBLIC")
            await connection.execute(database_grants(database, specs))
    finally:
        await connection.close()


async def server_answers(admin_url: str, timeout_s: float = 2.0) -> bool:
    """Whether a PostgreSQL server accepts our connection at ``admin_url``."""
    try:
        connection = await asyncpg.connect(asyncpg_dsn(admin_url), timeout=timeout_s)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await connection.close()
    return True
