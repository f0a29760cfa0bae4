"""Test-wide fixtures: one fresh, migrated database per run on a real PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from functools import cache
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from shared.db import asyncpg_dsn
from shared.security.jwt import TokenSigner
from shared.security.keys import jwks
from shared.security.principal import Principal, Role
from tests.support.database import (
    TestDatabase,
    create_test_database,
    drop_test_database,
    embedded_home,
    resolve_server,
)
from tests.support.keys import rsa_pair
from tests.support.processes import RunningProcess, running_suite

JWT_ISSUER = "ocop-gateway"
JWT_AUDIENCE = "ocop-platform"
JWT_KID = "test-1"


def test_jwks() -> str:
    """The JWKS every process under test trusts."""
    return jwks(rsa_pair()[1], JWT_KID)


test_jwks.__test__ = False  # type: ignore[attr-defined]


@cache
def _signer() -> TokenSigner:
    return TokenSigner(rsa_pair()[0], kid=JWT_KID, issuer=JWT_ISSUER)


def sign(principal: Principal, ttl_s: int = 900) -> str:
    """A token the processes under test accept."""
    return _signer().sign(principal, audience=JWT_AUDIENCE, ttl_s=ttl_s)


def auth(role: Role | str, scope: str | None = None, sub: str = "tester") -> dict[str, str]:
    """Authorization header for a principal with ``role`` scoped to ``scope``."""
    return {"Authorization": f"Bearer {sign(Principal(sub=sub, role=Role(role), scope=scope))}"}


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestDatabase]:
    """A database created for this run, bootstrapped and migrated; dropped at the end."""
    server_url, embedded = resolve_server(embedded_home("pg"))
    created = create_test_database(server_url, embedded)
    for name, url in created.urls.items():
        os.environ[f"{name.upper()}_DATABASE_URL"] = url
        os.environ[f"{name.upper()}_ENVIRONMENT"] = "test"
        os.environ[f"{name.upper()}_JWT_PUBLIC_KEYS"] = test_jwks()
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

    app = create_app(
        RegistrySettings(
            database_url=database.urls["registry"], environment="test", jwt_public_keys=test_jwks()
        )
    )
    async for client in asgi_client(app):
        yield client


@pytest.fixture
async def db(database: TestDatabase) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection as the administrator, for setting up and checking what was (not) written."""
    connection = await asyncpg.connect(asyncpg_dsn(database.admin_url))
    try:
        yield connection
    finally:
        await connection.close()


def repo_root() -> Path:
    """The repository's top folder."""
    return Path(__file__).resolve().parent.parent
