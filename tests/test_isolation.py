"""The harness itself: whatever one test writes, the next test starts from the template's rows."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from tests import builders
from tests.support.database import TestDatabase
from tests.support.isolation import Mode, WorkerDatabases

UNITS = "SELECT count(*) FROM registry.admin_unit"
JOBS = "SELECT count(*) FROM registry.import_job"


async def _write_everywhere(db: asyncpg.Connection) -> None:
    """Rows in a table the template fills (a unit) and in one it leaves empty (an import job)."""
    await builders.unit(db)
    await db.execute(
        """INSERT INTO registry.import_job (id, kind, file_format, valid_rows_only, status, done, created, updated,
               unchanged, invalid, validated, created_by, created_by_role)
           VALUES ($1, 'entities', 'csv', false, 'succeeded', 0, 0, 0, 0, 0, 0, 'tester', 'admin')""",
        uuid.uuid4(),
    )


@pytest.mark.parametrize("mode", ["rolled back", "reset"])
async def test_the_next_test_sees_none_of_these_rows(
    worker_databases: WorkerDatabases, base_template: TestDatabase, mode: Mode
) -> None:
    async with worker_databases.scope(mode, base_template) as first:
        template_units = await first.db.fetchval(UNITS)
        await _write_everywhere(first.db)
        assert (await first.db.fetchval(UNITS), await first.db.fetchval(JOBS)) == (template_units + 2, 1)
    async with worker_databases.scope(mode, base_template) as second:
        assert (await second.db.fetchval(UNITS), await second.db.fetchval(JOBS)) == (template_units, 0)
    assert template_units == 239  # the shipped administrative units of Quảng Ninh
