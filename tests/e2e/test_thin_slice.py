"""The thin slice over real HTTP between real processes: gateway → registry → PostgreSQL."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import pytest

from tests import builders
from tests.conftest import auth
from tests.support.processes import RunningProcess

pytestmark = pytest.mark.e2e


async def test_create_and_read_a_product_through_the_gateway(
    suite: dict[str, RunningProcess], db: asyncpg.Connection
) -> None:
    async with httpx.AsyncClient(base_url=suite["gateway"].url) as client:
        entity_id = str((await builders.entity(client, await builders.unit(db)))["id"])
        producer = auth("producer", entity_id)
        created = await client.post(
            "/v1/products",
            json=builders.product_body(entity_id, name="Rượu ba kích Ba Chẽ", product_set=14),
            headers={"X-Request-ID": "slice-request-0001", **producer},
        )
        assert created.status_code == 201, created.text
        assert created.headers["x-request-id"] == "slice-request-0001"
        product = created.json()
        read = await client.get(f"/v1/products/{product['id']}", headers=producer)
        stranger = await client.get(
            f"/v1/products/{product['id']}", headers=auth("producer", str(uuid.uuid4()))
        )
    assert read.status_code == 200
    assert read.json() == product
    assert read.json()["name"] == "Rượu ba kích Ba Chẽ"
    assert stranger.status_code == 404


async def test_the_gateway_and_the_registry_see_the_same_record(
    suite: dict[str, RunningProcess], db: asyncpg.Connection
) -> None:
    async with httpx.AsyncClient(base_url=suite["gateway"].url) as gateway:
        entity_id = str((await builders.entity(gateway, await builders.unit(db)))["id"])
        producer = auth("producer", entity_id)
        created = await gateway.post(
            "/v1/products",
            json=builders.product_body(entity_id, name="Trà hoa vàng", product_set=12),
            headers=producer,
        )
        assert created.status_code == 201, created.text
    async with httpx.AsyncClient(base_url=suite["registry"].url) as registry:
        direct = await registry.get(f"/v1/products/{created.json()['id']}", headers=producer)
    assert direct.status_code == 200
    assert direct.json()["name"] == "Trà hoa vàng"


async def test_malformed_body_is_a_problem_422_through_the_gateway(suite: dict[str, RunningProcess]) -> None:
    async with httpx.AsyncClient(base_url=suite["gateway"].url, headers=auth("admin")) as client:
        response = await client.post(
            "/v1/products",
            content='{"entity_id": "8f0c2a1e-8d7b-4c1e-9a51-4f7d1c2b3a4d", "name": "Na Hoành Bồ", "product_set": "ba"}'.encode(),
            headers={"content-type": "application/json"},
        )
        broken = await client.post("/v1/products", content=b"{", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "body.product_set"
    assert broken.status_code == 422
    assert broken.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in broken.json()["errors"]] == ["body"]


async def test_gateway_readiness_aggregates_every_upstream(suite: dict[str, RunningProcess]) -> None:
    async with httpx.AsyncClient(base_url=suite["gateway"].url) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"registry": "ok", "scoring": "ok", "stamps": "ok", "database": "ok"}


async def test_gateway_docs_merge_every_service(suite: dict[str, RunningProcess]) -> None:
    async with httpx.AsyncClient(base_url=suite["gateway"].url) as client:
        document = (await client.get("/openapi.json")).json()
        docs = await client.get("/docs")
        assets = await client.get("/docs-assets/swagger-ui-bundle.js")
    assert "/v1/products/{product_id}" in document["paths"]
    assert "x-missing-upstreams" not in document["info"]
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    assert "/docs-assets/swagger-ui-bundle.js" in docs.text
    assert "default-src 'none'" in docs.headers["content-security-policy"]
    assert assets.status_code == 200
