"""Stamps migrations that touch a populated scan log: run on a database of their own, from the revision before."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from alembic import command

from shared import migrate
from shared.db import asyncpg_dsn
from shared.topology import STAMPS
from tests.conftest import Run
from tests.support.migrations import schema_at

INDEXED = """
    SELECT parent.indisvalid AS valid, count(attached.inhrelid) AS partitions_indexed,
           (SELECT count(*) FROM pg_inherits WHERE inhparent = 'stamps.scan'::regclass) AS partitions
    FROM pg_index parent LEFT JOIN pg_inherits attached ON attached.inhparent = parent.indexrelid
    WHERE parent.indexrelid = 'stamps.ix_scan_device'::regclass GROUP BY parent.indisvalid
"""


@pytest.fixture
async def stamps_at_0012(pg_server: str, run: Run) -> AsyncIterator[str]:
    """The stamps schema at 0012 in a database of its own, as its administrator (the URL)."""
    async with schema_at(pg_server, run.throwaway_name("stamps_0012"), STAMPS, "0012") as admin_url:
        yield admin_url


async def test_0013_indexes_every_partition_of_a_scan_log_in_use_and_the_ones_made_later(
    stamps_at_0012: str,
) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(stamps_at_0012))
    try:
        await connection.execute(
            "INSERT INTO stamps.scan (scanned_at, verdict, rules, risk, channel, device_hash)"
            " VALUES (now(), 'unknown', '{}', 0, 'api', '\\x01'), ('2001-01-01', 'unknown', '{}', 0, 'api', '\\x02')"
        )
        await asyncio.to_thread(migrate.upgrade, STAMPS, stamps_at_0012, "0013")
        index = await connection.fetchrow(INDEXED)
        assert index is not None
        assert index["valid"]
        assert index["partitions_indexed"] == index["partitions"] > 2  # the months ahead and the default one
        # A month made after the migration has it too.
        await connection.execute(
            "SELECT stamps.ensure_scan_partitions((now() + interval '3 years')::date, 1)"
        )
        later = await connection.fetchrow(INDEXED)
        assert later is not None
        assert later["partitions_indexed"] == later["partitions"] == index["partitions"] + 1
        await asyncio.to_thread(command.downgrade, migrate.alembic_config(STAMPS, stamps_at_0012), "0012")
        assert await connection.fetchval("SELECT to_regclass('stamps.ix_scan_device')") is None
        assert await connection.fetchval("SELECT count(*) FROM stamps.scan") == 2
    finally:
        await connection.close()
