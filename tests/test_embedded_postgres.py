"""What a new user without PostgreSQL meets: the embedded server, bootstrapped and migrated."""

from __future__ import annotations

import asyncpg
import pytest

from shared.db import asyncpg_dsn
from shared.embedded import EmbeddedPostgres
from shared.topology import PROCESSES
from tests.support.database import create_test_database, drop_test_database, embedded_home

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


def test_embedded_server_takes_roles_schemas_and_every_migration() -> None:
    import asyncio

    server = EmbeddedPostgres(embedded_home("embedded") / "pgdata", delete_on_stop=True)
    server_url = server.start()
    try:
        assert "host=" in server_url, "the embedded server listens on a unix socket"
        database = create_test_database(server_url)
        try:
            versions = asyncio.run(_versions(database.admin_url))
            assert set(versions) == {spec.schema for spec in PROCESSES}
            assert all(versions.values())

            async def registry_denied_scoring() -> None:
                connection = await asyncpg.connect(asyncpg_dsn(database.urls["registry"]))
                try:
                    with pytest.raises(asyncpg.InsufficientPrivilegeError):
                        await connection.fetch("SELECT * FROM scoring.alembic_version")
                finally:
                    await connection.close()

            asyncio.run(registry_denied_scoring())
        finally:
            drop_test_database(database)
    finally:
        server.stop()
    assert not server.pgdata.exists(), "a test server leaves no data behind"
