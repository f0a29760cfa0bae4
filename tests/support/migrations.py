"""A database of its own with one process's schema migrated to a given revision, for migration tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from shared import dbadmin, migrate
from shared.db import asyncpg_dsn
from shared.topology import EXTENSIONS, EXTENSIONS_SCHEMA, ProcessSpec


@asynccontextmanager
async def schema_at(server: str, name: str, spec: ProcessSpec, revision: str) -> AsyncIterator[str]:
    """A new database with ``spec``'s schema migrated to ``revision``, as the administrator (its URL).

    No role is touched: roles are the server's, and changing them races with other test runs.
    """
    await dbadmin.create_database(server, name)
    admin_url = dbadmin.with_database(server, name)
    try:
        connection = await asyncpg.connect(asyncpg_dsn(admin_url))
        try:
            await connection.execute(f"CREATE SCHEMA {EXTENSIONS_SCHEMA}; CREATE SCHEMA {spec.schema}")
            for extension in EXTENSIONS:
                await connection.execute(f"CREATE EXTENSION {extension} SCHEMA {EXTENSIONS_SCHEMA}")
        finally:
            await connection.close()
        await asyncio.to_thread(migrate.upgrade, spec, admin_url, revision)
        yield admin_url
    finally:
        await dbadmin.drop_database(server, name)
