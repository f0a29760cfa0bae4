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
    WHERE parent.indexrelid = CAST($1 AS regclass) GROUP BY parent.indisvalid
"""


async def indexed_everywhere(connection: asyncpg.Connection, name: str) -> asyncpg.Record:
    """The partitioned index ``name``, checked valid and attached on every partition of the scan log."""
    index = await connection.fetchrow(INDEXED, name)
    assert index is not None
    assert index["valid"]
    assert index["partitions_indexed"] == index["partitions"]
    return index


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
        index = await indexed_everywhere(connection, "stamps.ix_scan_device")
        assert index["partitions"] > 2  # the months ahead and the default one
        # A month made after the migration has it too.
        await connection.execute(
            "SELECT stamps.ensure_scan_partitions((now() + interval '3 years')::date, 1)"
        )
        later = await connection.fetchrow(INDEXED, "stamps.ix_scan_device")
        assert later is not None
        assert later["partitions_indexed"] == later["partitions"] == index["partitions"] + 1
        await asyncio.to_thread(command.downgrade, migrate.alembic_config(STAMPS, stamps_at_0012), "0012")
        assert await connection.fetchval("SELECT to_regclass('stamps.ix_scan_device')") is None
        assert await connection.fetchval("SELECT count(*) FROM stamps.scan") == 2
    finally:
        await connection.close()


@pytest.fixture
async def stamps_at_0013(pg_server: str, run: Run) -> AsyncIterator[str]:
    """The stamps schema at 0013 in a database of its own, as its administrator (the URL)."""
    async with schema_at(pg_server, run.throwaway_name("stamps_0013"), STAMPS, "0013") as admin_url:
        yield admin_url


# Scans as the scan log wrote them before 0014 (serial, minutes ago, batch or not, verdict) and the stamps'
# summaries (serial, minutes ago of the first counted scan).
SCANS_BEFORE_0014 = """
    INSERT INTO stamps.scan (scanned_at, serial, batch_id, verdict, rules, risk, channel)
    SELECT now() - make_interval(mins => s.ago), s.serial, CASE WHEN s.known THEN gen_random_uuid() END,
           s.verdict, '{}', 0, 'api'
    FROM unnest($1::text[], $2::int[], $3::bool[], $4::text[]) AS s(serial, ago, known, verdict)
"""
SUMMARIES = """
    INSERT INTO stamps.stamp_scan (serial, scan_count, first_scanned_at, last_scanned_at)
    SELECT serial, 1, first_at, first_at FROM (
        SELECT serial, min(scanned_at) AS first_at FROM stamps.scan
        WHERE batch_id IS NOT NULL AND verdict NOT IN ('unknown', 'malformed') GROUP BY serial
    ) first
"""


async def test_0014_flags_the_last_days_first_scans_indexes_them_and_goes_back(stamps_at_0013: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(stamps_at_0013))
    scans = [
        ("RECENT", 120, True, "genuine"), ("RECENT", 110, True, "genuine"), ("RECENT", 5, True, "caution"),
        # A real serial under another GTIN is no verification of it: its first counted scan is the later one.
        ("MISMATCHED", 90, True, "unknown"), ("MISMATCHED", 60, True, "genuine"),
        # First scanned three days ago: older than the backfill's day, left as it was.
        ("OLD", 3 * 24 * 60, True, "genuine"), ("OLD", 30, True, "genuine"),
        # Two scans at the summary's instant: the first logged (the lower id) is the one.
        ("TWICE", 40, True, "genuine"), ("TWICE", 40, True, "genuine"),
        ("NOSUCHSTAMP", 20, False, "unknown"), (None, 10, False, "malformed"),
    ]  # fmt: skip
    try:
        await connection.execute(SCANS_BEFORE_0014, *(list(column) for column in zip(*scans, strict=True)))
        await connection.execute(SUMMARIES)
        await asyncio.to_thread(migrate.upgrade, STAMPS, stamps_at_0013, "0014")
        flagged = await connection.fetch(
            "SELECT serial, round(extract(epoch FROM now() - scanned_at) / 60) AS ago, id FROM stamps.scan"
            " WHERE first_scan ORDER BY serial"
        )
        assert [(row["serial"], row["ago"]) for row in flagged] == [
            ("MISMATCHED", 60),
            ("RECENT", 120),
            ("TWICE", 40),
        ]
        twice = await connection.fetchval("SELECT min(id) FROM stamps.scan WHERE serial = 'TWICE'")
        assert flagged[2]["id"] == twice
        index = await indexed_everywhere(connection, "stamps.ix_scan_first")
        assert index["partitions"] > 2  # the months ahead and the default one
        # A scan logged by code that does not know the column (an old pod) is no first scan.
        await connection.execute(
            "INSERT INTO stamps.scan (scanned_at, verdict, rules, risk, channel) VALUES (now(), 'unknown', '{}', 0, 'api')"
        )
        assert await connection.fetchval("SELECT count(*) FROM stamps.scan WHERE first_scan") == len(flagged)
        await asyncio.to_thread(command.downgrade, migrate.alembic_config(STAMPS, stamps_at_0013), "0013")
        assert await connection.fetchval("SELECT to_regclass('stamps.ix_scan_first')") is None
        columns = await connection.fetchval(
            "SELECT count(*) FROM information_schema.columns"
            " WHERE table_schema = 'stamps' AND table_name = 'scan' AND column_name = 'first_scan'"
        )
        assert columns == 0
        assert await connection.fetchval("SELECT count(*) FROM stamps.scan") == len(scans) + 1
    finally:
        await connection.close()


async def test_0014_runs_again_after_a_run_that_stopped_half_way(stamps_at_0013: str) -> None:
    """The column and the parent's index are committed before the builds: a failed run left them, and a rerun
    must finish the job (it would stop at "column already exists" otherwise)."""
    connection = await asyncpg.connect(asyncpg_dsn(stamps_at_0013))
    try:
        partition = await connection.fetchval(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'stamps.scan'::regclass ORDER BY c.relname LIMIT 1"
        )
        await connection.execute(
            "ALTER TABLE stamps.scan ADD COLUMN first_scan boolean NOT NULL DEFAULT false"
        )
        await connection.execute(
            "CREATE INDEX ix_scan_first ON ONLY stamps.scan (batch_id, scanned_at) WHERE first_scan"
        )
        await connection.execute(
            f'CREATE INDEX "{partition}_first" ON stamps."{partition}" (batch_id, scanned_at) WHERE first_scan'
        )
        await asyncio.to_thread(migrate.upgrade, STAMPS, stamps_at_0013, "0014")
        await indexed_everywhere(connection, "stamps.ix_scan_first")
    finally:
        await connection.close()
