"""Every error is problem+json with a stable type and the request id; ids are validated."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel

from shared.app import create_service_app, no_lifespan
from shared.config import BaseServiceSettings
from shared.errors import Conflict
from tests.conftest import asgi_client

router = APIRouter()


class Item(BaseModel):
    name: str
    count: int


@router.post("/items")
async def create_item(item: Item) -> Item:
    return item


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("secret connection string postgresql://user:hunter2@db")


@router.get("/conflict")
async def conflict() -> None:
    raise Conflict("Product is certified", current_state="certified")


async def _ready(_: object) -> dict[str, str]:
    return {"database": "ok"}


@pytest.fixture(scope="module")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_service_app(
        name="test",
        title="test",
        settings=BaseServiceSettings(),
        routers=[router],
        lifespan=no_lifespan,  # type: ignore[arg-type]
        readiness=_ready,  # type: ignore[arg-type]
    )
    async for c in asgi_client(app):
        yield c


async def test_validation_error_names_each_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/items", json={"name": 5, "count": "many"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "/problems/validation-error"
    assert body["status"] == 422
    assert {e["field"] for e in body["errors"]} == {"body.name", "body.count"}
    assert body["request_id"] == response.headers["x-request-id"]


async def test_malformed_json_is_422_not_500(client: httpx.AsyncClient) -> None:
    response = await client.post("/items", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == ["body"]


async def test_unknown_route_and_wrong_method(client: httpx.AsyncClient) -> None:
    missing = await client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.json()["type"] == "/problems/not-found"
    wrong = await client.delete("/items")
    assert wrong.status_code == 405
    assert wrong.json()["type"] == "/problems/method-not-allowed"
    assert wrong.headers["content-type"] == "application/problem+json"


async def test_business_error_carries_its_extensions(client: httpx.AsyncClient) -> None:
    response = await client.get("/conflict")
    assert response.status_code == 409
    assert response.json()["current_state"] == "certified"
    assert response.json()["detail"] == "Product is certified"


async def test_crash_is_a_500_problem_that_leaks_nothing(client: httpx.AsyncClient) -> None:
    response = await client.get("/boom", headers={"X-Request-ID": "trace-1234567"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "trace-1234567"
    body = response.json()
    assert body["type"] == "/problems/internal-error"
    assert body["request_id"] == "trace-1234567"
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text


async def test_well_formed_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "0f8fad5b-d9cb-469f-a165-70867728950e"})
    assert response.headers["x-request-id"] == "0f8fad5b-d9cb-469f-a165-70867728950e"


@pytest.mark.parametrize("bad", ["short", "with space inside it", "x" * 200, "<script>alert(1)</script>"])
async def test_malformed_request_id_is_replaced(client: httpx.AsyncClient, bad: str) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": bad})
    assert response.headers["x-request-id"] != bad
    assert len(response.headers["x-request-id"]) == 32


async def test_each_request_gets_its_own_id(client: httpx.AsyncClient) -> None:
    first = await client.get("/healthz")
    second = await client.get("/healthz")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_undecodable_body_is_a_422_on_body(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/items", content=b"\xff\xfe{\x00", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == ["body"]


async def test_every_answer_says_nosniff(registry_client: httpx.AsyncClient) -> None:
    for path in (
        "/healthz",
        "/v1/catalogue",
        "/v1/entities/not-an-id",
        "/docs",
        "/docs-assets/swagger-ui.css",
    ):
        response = await registry_client.get(path)
        assert response.headers["x-content-type-options"] == "nosniff", path
