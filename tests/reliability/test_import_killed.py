"""An import whose process is killed half-way through writing leaves nothing behind (a real registry process).

The test holds a row lock on the record the file's last row changes, so the writing pass stops there
after committing the progress of the batches before it; then the process is killed (SIGKILL: no
clean-up runs) and the lock released. PostgreSQL rolls back the dead connection's transaction.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from services.registry.imports.runner import BATCH_ROWS
from shared.topology import REGISTRY
from tests import builders
from tests.builders import (
    ADMIN,
    ENTITY_COLUMNS,
    JOB_LIMIT_S,
    JOB_POLL_S,
    PRODUCT_COLUMNS,
    csv_file,
    entity_row,
    imported,
    product_row,
    upload,
)
from tests.support.database import TestDatabase
from tests.support.processes import RunningProcess, free_port, start_process, stop, wait_until_healthy

# A real registry process of the test's own writes: the test's database is reset after it.
pytestmark = [pytest.mark.e2e, pytest.mark.commits]

NEW_ROWS = 2 * BATCH_ROWS


@pytest.fixture
def registry(database: TestDatabase, tmp_path: Path) -> Iterator[RunningProcess]:
    """A registry process of this test's own, on the test's database."""
    env = {f"{REGISTRY.env_prefix}DATABASE_URL": database.urls["registry"]}
    running = start_process(
        REGISTRY.app, "registry-import", free_port(), env, tmp_path, REGISTRY.uvicorn_args()
    )
    try:
        wait_until_healthy(running)
        yield running
    finally:
        stop([running])


async def kill_while_writing(
    registry: RunningProcess, db: asyncpg.Connection, kind: str, content: bytes, locked_row: str
) -> dict[str, Any]:
    """Upload ``content``; once the writing pass waits for ``locked_row`` (SQL naming one row), kill the process.

    Returns the job as the killed process left it, after its transaction has been rolled back.
    """
    lock = db.transaction()
    await lock.start()
    await db.execute(f"{locked_row} FOR UPDATE")
    async with httpx.AsyncClient(base_url=registry.url) as client:
        response = await upload(client, kind, content)
        assert response.status_code == 202, response.text
        job_id = uuid.UUID(response.json()["id"])
        async with asyncio.timeout(JOB_LIMIT_S):
            while True:
                job = (await client.get(f"/v1/imports/{job_id}", headers=ADMIN)).json()
                assert job["status"] in ("pending", "validating", "importing"), job.get("errors")
                if job["status"] == "importing" and job["done"] == NEW_ROWS:
                    break  # the batches before the locked row are written, uncommitted
                await asyncio.sleep(JOB_POLL_S)
    registry.process.kill()
    registry.process.wait()
    await lock.rollback()
    # The dead connection's transaction still holds its locks until PostgreSQL has rolled it back.
    async with db.transaction():
        await db.execute("LOCK TABLE registry.entity, registry.product IN SHARE MODE")
    return dict(
        await db.fetchrow("SELECT id, status, done, created FROM registry.import_job WHERE id = $1", job_id)
    )


async def _entity_import_killed(
    registry: RunningProcess, db: asyncpg.Connection
) -> tuple[dict[str, Any], dict[str, str], list[dict[str, str]]]:
    """An entity imported, then an import of new entities and a change to it, killed while writing.

    Returns the job as left, the entity imported first and the rows of the killed import.
    """
    unit = await builders.unit(db)
    existing = entity_row(unit)
    async with httpx.AsyncClient(base_url=registry.url) as client:
        assert (await imported(client, "entities", csv_file(ENTITY_COLUMNS, [existing])))["created"] == 1
    rows = [entity_row(unit) for _ in range(NEW_ROWS)] + [dict(existing, address="Khu 9, phường Hà Lầm")]
    job = await kill_while_writing(
        registry, db, "entities", csv_file(ENTITY_COLUMNS, rows),
        f"SELECT 1 FROM registry.entity WHERE tax_code = '{existing['tax_code']}'",
    )  # fmt: skip
    return job, existing, rows


async def test_a_killed_entity_import_writes_nothing(
    registry: RunningProcess, db: asyncpg.Connection
) -> None:
    job, existing, rows = await _entity_import_killed(registry, db)

    # The job's progress was committed on the way; none of its data was.
    assert (job["status"], job["done"], job["created"]) == ("importing", NEW_ROWS, 0)
    written = await db.fetchval(
        "SELECT count(*) FROM registry.entity WHERE tax_code = ANY($1::text[])",
        [row["tax_code"] for row in rows],
    )
    assert written == 1
    assert (
        await db.fetchval("SELECT address FROM registry.entity WHERE tax_code = $1", existing["tax_code"])
        == existing["address"]
    )


async def test_a_killed_product_import_writes_no_product_and_no_history(
    registry: RunningProcess, db: asyncpg.Connection
) -> None:
    unit = await builders.unit(db)
    entity = entity_row(unit)
    existing = product_row(entity["tax_code"], external_id="SP-0001")
    async with httpx.AsyncClient(base_url=registry.url) as client:
        assert (await imported(client, "entities", csv_file(ENTITY_COLUMNS, [entity])))["created"] == 1
        assert (await imported(client, "products", csv_file(PRODUCT_COLUMNS, [existing])))["created"] == 1
    entity_id = await db.fetchval("SELECT id FROM registry.entity WHERE tax_code = $1", entity["tax_code"])
    rows = [product_row(entity["tax_code"]) for _ in range(NEW_ROWS)] + [
        dict(existing, name_en="Morinda liquor")
    ]

    job = await kill_while_writing(
        registry, db, "products", csv_file(PRODUCT_COLUMNS, rows),
        f"SELECT 1 FROM registry.product WHERE entity_id = '{entity_id}' AND external_id = 'SP-0001'",
    )  # fmt: skip

    assert (job["status"], job["done"], job["created"]) == ("importing", NEW_ROWS, 0)
    products = await db.fetch("SELECT name_en FROM registry.product WHERE entity_id = $1", entity_id)
    assert [row["name_en"] for row in products] == [existing["name_en"]]
    history = await db.fetchval(
        "SELECT count(*) FROM registry.product_change WHERE changes->>'import_job' = $1", str(job["id"])
    )
    assert history == 0


async def test_the_killed_import_is_failed_by_a_replica_that_lives_on(
    registry: RunningProcess, database: TestDatabase, db: asyncpg.Connection, tmp_path: Path
) -> None:
    job, _, rows = await _entity_import_killed(registry, db)
    assert job["status"] == "importing"
    # Another replica, checking often for jobs without progress, fails the dead process's job.
    survivor = start_process(
        REGISTRY.app, "registry-survivor", free_port(),
        {f"{REGISTRY.env_prefix}DATABASE_URL": database.urls["registry"],
         "REGISTRY_IMPORT_STALLED_AFTER_S": "2", "REGISTRY_IMPORT_STALL_CHECK_S": "0.5"},
        tmp_path, REGISTRY.uvicorn_args(),
    )  # fmt: skip
    try:
        wait_until_healthy(survivor)
        status = None
        async with asyncio.timeout(JOB_LIMIT_S):
            for _ in range(int(JOB_LIMIT_S / JOB_POLL_S)):
                status = await db.fetchval("SELECT status FROM registry.import_job WHERE id = $1", job["id"])
                if status == "failed":
                    break
                await asyncio.sleep(JOB_POLL_S)
        assert status == "failed"
        errors = await db.fetchval("SELECT errors::text FROM registry.import_job WHERE id = $1", job["id"])
        assert "interrupted" in errors
        assert (
            await db.fetchval(
                "SELECT count(*) FROM registry.entity WHERE tax_code = ANY($1::text[])",
                [row["tax_code"] for row in rows],
            )
            == 1
        )
    finally:
        stop([survivor])
