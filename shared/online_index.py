"""An index on a partitioned table that is being written, made in a migration without holding its writers up.

The old pods keep serving while a migration runs. So the index is made on the partitioned table alone
(``ON ONLY``), then on each partition ``CONCURRENTLY`` (writes go on), then each is attached; partitions
made later get it by themselves. A concurrent build waits for every older transaction (a long report, an
export being read), so that wait has no lock timeout; the brief exclusive steps keep
``LOCK_TIMEOUT`` and fail rather than queue the writers behind them. Every step may be run again: a run
that failed half-way (a build leaves an invalid index behind) is finished by the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

LOCK_TIMEOUT = "5s"
PARTITIONS = sa.text("""
    SELECT child.relname FROM pg_inherits
    JOIN pg_class child ON child.oid = pg_inherits.inhrelid
    JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
    JOIN pg_namespace ON pg_namespace.oid = parent.relnamespace
    WHERE pg_namespace.nspname = :schema AND parent.relname = :table
    ORDER BY child.relname""")
INVALID = sa.text("""
    SELECT 1 FROM pg_index JOIN pg_class ON pg_class.oid = pg_index.indexrelid
    JOIN pg_namespace ON pg_namespace.oid = pg_class.relnamespace
    WHERE pg_namespace.nspname = :schema AND pg_class.relname = :name AND NOT pg_index.indisvalid""")
ATTACHED = sa.text("""
    SELECT 1 FROM pg_inherits JOIN pg_class ON pg_class.oid = pg_inherits.inhrelid
    JOIN pg_namespace ON pg_namespace.oid = pg_class.relnamespace
    WHERE pg_namespace.nspname = :schema AND pg_class.relname = :name""")


def create_index_online(
    op: Any, schema: str, table: str, name: str, definition: str, *, suffix: str, first: Sequence[str] = ()
) -> None:
    """``CREATE INDEX name ON schema.table definition`` (``op`` is alembic's), each partition's index named
    ``{partition}_{suffix}``; ``first`` are statements to run committed on their own before the builds
    (a backfill). Commits the migration's transaction so far."""
    bind = op.get_bind()
    op.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
    op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON ONLY {schema}.{table} {definition}")
    partitions = [row.relname for row in bind.execute(PARTITIONS, {"schema": schema, "table": table})]
    with op.get_context().autocommit_block():
        op.execute("SET lock_timeout = 0")
        for statement in first:
            op.execute(statement)
        for partition in partitions:
            index = f"{partition}_{suffix}"
            if bind.execute(INVALID, {"schema": schema, "name": index}).first() is not None:
                op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS {schema}."{index}"')
            op.execute(
                f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{index}" ON {schema}."{partition}" {definition}'
            )
        op.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
    for partition in partitions:
        index = f"{partition}_{suffix}"
        if bind.execute(ATTACHED, {"schema": schema, "name": index}).first() is None:
            op.execute(f'ALTER INDEX {schema}.{name} ATTACH PARTITION {schema}."{index}"')
    op.execute("RESET lock_timeout")
