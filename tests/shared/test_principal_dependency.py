"""The principal dependency: anonymous without a header, 401 for anything but a valid bearer token."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter

from shared.app import create_service_app, no_lifespan
from shared.config import BaseServiceSettings
from shared.security.dependencies import PrincipalDep
from tests.conftest import auth, test_jwks

router = APIRouter()


@router.get("/whoami")
async def whoami(principal: PrincipalDep) -> dict[str, str | None]:
    return {"sub": principal.sub, "role": principal.role.value, "scope": principal.scope}


async def _client(settings: BaseServiceSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_service_app(name="t", title="t", settings=settings, routers=[router], lifespan=no_lifespan)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield client


@pytest.fixture(scope="module")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(BaseServiceSettings(jwt_public_keys=test_jwks())):
        yield c


async def test_no_header_is_anonymous(client: httpx.AsyncClient) -> None:
    assert (await client.get("/whoami")).json() == {"sub": "anonymous", "role": "anonymous", "scope": None}


async def test_valid_token_is_the_principal(client: httpx.AsyncClient) -> None:
    response = await client.get("/whoami", headers=auth("province_officer", "22", sub="officer-7"))
    assert response.json() == {"sub": "officer-7", "role": "province_officer", "scope": "22"}


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "Bearer abc.def.ghi", "Token x"]
)
async def test_anything_else_is_401_with_a_challenge(client: httpx.AsyncClient, header: str) -> None:
    response = await client.get("/whoami", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["type"] == "/problems/unauthenticated"


async def test_a_service_without_keys_refuses_every_token() -> None:
    async for keyless in _client(BaseServiceSettings(jwt_public_keys='{"keys": []}')):
        assert (await keyless.get("/whoami", headers=auth("admin"))).status_code == 401
    async for unconfigured in _client(BaseServiceSettings()):
        assert (await unconfigured.get("/whoami", headers=auth("admin"))).status_code == 401
        assert (await unconfigured.get("/whoami")).status_code == 200
