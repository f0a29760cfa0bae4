"""What a new user without PostgreSQL meets: the embedded server, bootstrapped and migrated."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from shared.db import asyncpg_dsn
from shared.topology import PROCESSES
from tests.conftest import Run
from tests.support.database import create_migrated, drop_test_database, embedded_server

pytestmark = pytest.mark.xdist_group("embedded-postgres")


async def _registry_denied_scoring(url: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.fetch("SELECT * FROM scoring.alembic_version")
    finally:
        await connection.close()


pytestmark = pytest.mark.xdist_group("embedded-postgres")


async def _versions(url: str) -> dict[str, str]:
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return {
            spec.schema: await connection.fetchval(f'SELECT version_num FROM "{spec.schema}".alembic_version')
            for spec in PROCESSES
        }
    finally:
        await connection.close()


def test_embedded_server_takes_roles_schemas_and_every_migration(run: Run) -> None:
    with embedded_server() as server:
        server_url = server.start()
        assert "host=" in server_url, "the embedded server listens on a unix socket"
        database = run.database(server_url, "embedded")
        create_migrated(database, run.passwords)
        try:
            versions = asyncio.run(_versions(database.admin_url))
            assert set(versions) == {spec.schema for spec in PROCESSES}
            assert all(versions.values())
            asyncio.run(_registry_denied_scoring(database.urls["registry"]))
        finally:
            drop_test_database(database)
    assert not server.pgdata.exists(), "a test server leaves no data behind"
