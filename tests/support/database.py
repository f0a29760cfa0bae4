"""A fresh test database on a real PostgreSQL, bootstrapped and migrated like production."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from shared import dbadmin, migrate
from shared.embedded import EmbeddedPostgres
from shared.topology import PROCESSES

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass
class TestDatabase:
    __test__ = False

    """The admin URL of a throwaway database and each process's role URL on it."""

    admin_url: str
    urls: dict[str, str]
    embedded: EmbeddedPostgres | None = field(default=None, repr=False)


def resolve_server(state_dir: Path) -> tuple[str, EmbeddedPostgres | None]:
    """OCOP_DATABASE_URL if set; else the local server if it answers; else an embedded one."""
    configured = os.environ.get("OCOP_DATABASE_URL")
    if configured:
        return configured, None
    if asyncio.run(dbadmin.server_answers(LOCAL_SERVER)):
        return LOCAL_SERVER, None
    server = EmbeddedPostgres(state_dir / "pgdata", delete_on_stop=True)
    return server.start(), server


def create_test_database(server_url: str, embedded: EmbeddedPostgres | None = None) -> TestDatabase:
    """Create a uniquely named database, its roles and schemas, and migrate every process."""
    name = f"ocop_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(dbadmin.create_database(server_url, name))
    admin_url = dbadmin.with_database(server_url, name)
    passwords = {spec.name: dbadmin.new_password() for spec in PROCESSES}
    asyncio.run(dbadmin.bootstrap(admin_url, PROCESSES, passwords))
    urls = {spec.name: dbadmin.role_url(admin_url, spec.role, passwords[spec.name]) for spec in PROCESSES}
    for spec in PROCESSES:
        migrate.upgrade(spec, urls[spec.name])
    return TestDatabase(admin_url, urls, embedded)


def drop_test_database(database: TestDatabase) -> None:
    """Drop the database (and stop the embedded server if one was started for it)."""
    server_url = dbadmin.with_database(database.admin_url, "postgres")
    asyncio.run(dbadmin.drop_database(server_url, dbadmin.database_of(database.admin_url)))
    if database.embedded is not None:
        database.embedded.stop()


def embedded_home(label: str) -> Path:
    """A fresh folder for an embedded server's data, outside pytest's temporary root.

    The server runs as its own system user and needs to traverse the folder's parents; pytest resets
    its root (/tmp/pytest-of-<user>) to mode 0700 whenever a run or an xdist worker starts, which would
    lock a running server out of its own data. /tmp itself stays traversable.
    """
    return Path(tempfile.mkdtemp(prefix=f"ocop-{label}-"))
