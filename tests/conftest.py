"""Test-wide fixtures: one fresh, migrated database per run on a real PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.support.database import TestDatabase, create_test_database, drop_test_database, resolve_server
from tests.support.processes import RunningProcess, running_suite


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestDatabase]:
    """A database created for this run, bootstrapped and migrated; dropped at the end."""
    server_url, embedded = resolve_server(tmp_path_factory.mktemp("pg"))
    created = create_test_database(server_url, embedded)
    for name, url in created.urls.items():
        os.environ[f"{name.upper()}_DATABASE_URL"] = url
        os.environ[f"{name.upper()}_ENVIRONMENT"] = "test"
    try:
        yield created
    finally:
        drop_test_database(created)


@pytest.fixture(scope="session")
def suite(
    database: TestDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, RunningProcess]]:
    """The four real processes on free ports, sharing the test database."""
    with running_suite(database.urls, tmp_path_factory.mktemp("logs")) as processes:
        yield processes


async def asgi_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to ``app`` in-process, with its lifespan running."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture(scope="session")
async def registry_client(database: TestDatabase) -> AsyncIterator[httpx.AsyncClient]:
    """The registry app in-process on the test database."""
    from services.registry.config import RegistrySettings
    from services.registry.main import create_app

    app = create_app(RegistrySettings(database_url=database.urls["registry"], environment="test"))
    async for client in asgi_client(app):
        yield client


def repo_root() -> Path:
    """The repository's top folder."""
    return Path(__file__).resolve().parent.parent
