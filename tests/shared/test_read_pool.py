"""The read pool: bounded, recovers from broken connections, survives cancelled reads, closes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from shared.db import ReadPool, asyncpg_dsn, create_read_pool
from tests.support.database import TestDatabase


@pytest.fixture
async def pool(migrated_database: TestDatabase) -> AsyncIterator[tuple[ReadPool, str]]:
    name = f"reads-{uuid.uuid4().hex[:8]}"
    opened = await create_read_pool(
        migrated_database.urls["registry"], application_name=name, min_size=1, max_size=3
    )
    try:
        yield opened, name
    finally:
        await opened.close()


async def _backends(migrated_database: TestDatabase, name: str) -> list[int]:
    connection = await asyncpg.connect(asyncpg_dsn(migrated_database.admin_url))
    try:
        # A backend whose client hung up mid-statement runs on until the statement ends: not ours any more.
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query NOT LIKE '%pg_sleep(5)%'",
            name,
        )
    finally:
        await connection.close()
    return [row["pid"] for row in rows]


async def test_more_reads_than_connections_wait_for_one(
    pool: tuple[ReadPool, str], migrated_database: TestDatabase
) -> None:
    reads, name = pool
    answers = await asyncio.gather(
        *(reads.fetchval("SELECT $1::int FROM pg_sleep(0.01)", n) for n in range(20))
    )
    assert answers == list(range(20))
    assert len(await _backends(migrated_database, name)) == 3


async def test_a_connection_the_server_dropped_is_replaced(
    pool: tuple[ReadPool, str], migrated_database: TestDatabase
) -> None:
    reads, name = pool
    assert await reads.fetchval("SELECT 1") == 1
    admin = await asyncpg.connect(asyncpg_dsn(migrated_database.admin_url))
    try:
        for pid in await _backends(migrated_database, name):
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    assert await reads.fetchval("SELECT 2") == 2


async def test_a_cancelled_read_leaves_the_pool_whole(
    pool: tuple[ReadPool, str], migrated_database: TestDatabase
) -> None:
    reads, name = pool
    slow = [asyncio.create_task(reads.fetchval("SELECT pg_sleep(5)")) for _ in range(3)]
    await asyncio.sleep(0.2)
    for task in slow:
        task.cancel()
    for task in slow:
        with pytest.raises(asyncio.CancelledError):
            await task
    answers = await asyncio.gather(*(reads.fetchval("SELECT $1::int", n) for n in range(6)))
    assert answers == list(range(6))
    assert len(await _backends(migrated_database, name)) <= 3


async def test_a_closed_pool_refuses_reads(migrated_database: TestDatabase) -> None:
    reads = await create_read_pool(
        migrated_database.urls["registry"], application_name="closing", min_size=1, max_size=1
    )
    await reads.close()
    with pytest.raises(asyncpg.InterfaceError):
        await reads.fetchval("SELECT 1")
