"""Query parameters read as one model: the values FastAPI would give, its 422s, its OpenAPI parameters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel, Field

from shared.app import create_service_app, no_lifespan
from shared.config import BaseServiceSettings
from shared.query_params import query_model, query_parameters
from tests.conftest import asgi_client


class Filters(BaseModel):
    limit: int = Field(20, ge=1, le=100, description="Page size")
    tag: list[Annotated[int, Field(ge=1)]] | None = Field(None, description="Repeat for several")
    kind: Literal["a", "b"] | None = None
    code: str | None = Field(None, pattern=r"^\d{2}$")


router = APIRouter()


@router.get("/things", openapi_extra=query_parameters(Filters))
async def things(filters: Annotated[Filters, Depends(query_model(Filters))]) -> dict[str, Any]:
    return filters.model_dump()


@pytest.fixture(scope="module")
async def app() -> FastAPI:
    return create_service_app(
        name="test", title="test", settings=BaseServiceSettings(), routers=[router],
        lifespan=no_lifespan,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.fixture(scope="module")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async for c in asgi_client(app):
        yield c


async def test_values_defaults_and_repeated_keys(client: httpx.AsyncClient) -> None:
    assert (await client.get("/things")).json() == {"limit": 20, "tag": None, "kind": None, "code": None}
    response = await client.get(
        "/things", params=[("tag", 3), ("tag", 1), ("kind", "a"), ("limit", "7"), ("x", "y")]
    )
    assert response.json() == {"limit": 7, "tag": [3, 1], "kind": "a", "code": None}
    # A single-valued parameter given twice keeps its last value, as FastAPI's own parameters do.
    assert (await client.get("/things", params=[("code", "01"), ("code", "02")])).json()["code"] == "02"


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": 0}, "query.limit"), ({"tag": "x"}, "query.tag.0"), ({"tag": 0}, "query.tag.0"),
     ({"kind": "c"}, "query.kind"), ({"code": "123"}, "query.code")],
)  # fmt: skip
async def test_an_invalid_value_is_a_422_naming_the_field(
    client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    response = await client.get("/things", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == [field]


async def test_the_parameters_are_documented(app: FastAPI) -> None:
    parameters = app.openapi()["paths"]["/things"]["get"]["parameters"]
    assert [(p["name"], p["in"], p["required"]) for p in parameters] == [
        ("limit", "query", False), ("tag", "query", False), ("kind", "query", False), ("code", "query", False),
    ]  # fmt: skip
    assert parameters[0]["description"] == "Page size"
    assert parameters[0]["schema"]["maximum"] == 100
    assert parameters[2]["schema"]["anyOf"][0]["enum"] == ["a", "b"]
