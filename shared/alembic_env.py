"""The body of every service's Alembic env.py: one schema, its own version table, async engine."""

from __future__ import annotations

import asyncio
import os
import re
from typing import Any

from alembic import context
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db import async_url


def _url(schema: str) -> str:
    configured = context.config.get_main_option("sqlalchemy.url")
    url = configured or os.environ.get(f"{schema.upper()}_DATABASE_URL", "")
    if not url:
        raise RuntimeError(f"No database URL: set sqlalchemy.url or {schema.upper()}_DATABASE_URL")
    return async_url(url)


def run_env(schema: str, metadata: MetaData, *, partitions: re.Pattern[str] | None = None) -> None:
    """Run migrations for ``schema`` only, keeping ``alembic_version`` inside that schema.

    ``partitions`` matches the names of tables that are partitions of a modelled table (created at run
    time, month by month): autogenerate leaves them and their indexes alone.
    """

    def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
        # Autogenerate must never diff (or drop) another service's schema.
        if type_ == "schema":
            return name == schema
        if partitions is not None and type_ == "table":
            return not partitions.fullmatch(name or "")
        if partitions is not None and type_ == "index":
            return not partitions.fullmatch(parent_names.get("table_name") or "")
        return True

    def drop_empty_revisions(_context: Any, _revision: Any, directives: list[Any]) -> None:
        if getattr(context.config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []

    options: dict[str, Any] = {
        "target_metadata": metadata,
        "version_table_schema": schema,
        "include_schemas": True,
        "include_name": include_name,
        "compare_type": True,
        "process_revision_directives": drop_empty_revisions,
    }

    if context.is_offline_mode():
        context.configure(url=_url(schema), literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return

    def do_run(connection: Connection) -> None:
        context.configure(connection=connection, **options)
        # The schema itself is created by the bootstrap (`ocop migrate`) with this role as its
        # owner: service roles may not create schemas.
        with context.begin_transaction():
            context.run_migrations()

    async def run_online() -> None:
        engine = create_async_engine(_url(schema), poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run_online())
