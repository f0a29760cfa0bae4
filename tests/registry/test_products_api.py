"""Registering and reading products on the registry (in-process, real PostgreSQL)."""

from __future__ import annotations

import uuid

import httpx


async def test_register_then_read_back(registry_client: httpx.AsyncClient) -> None:
    created = await registry_client.post("/v1/products", json={"name": "Chả mực Hạ Long", "product_set": 8})
    assert created.status_code == 201
    body = created.json()
    assert created.headers["location"] == f"/v1/products/{body['id']}"
    read = await registry_client.get(created.headers["location"])
    assert read.status_code == 200
    assert read.json()["name"] == "Chả mực Hạ Long"
    assert read.json()["product_set"] == 8


async def test_unknown_product_is_a_problem_404(registry_client: httpx.AsyncClient) -> None:
    response = await registry_client.get(f"/v1/products/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json()["type"] == "/problems/product-not-found"


async def test_malformed_id_is_422_on_the_path_field(registry_client: httpx.AsyncClient) -> None:
    response = await registry_client.get("/v1/products/not-a-uuid")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "path.product_id"


async def test_invalid_body_writes_nothing(registry_client: httpx.AsyncClient) -> None:
    name = f"Không hợp lệ {uuid.uuid4()}"
    response = await registry_client.post("/v1/products", json={"name": name, "product_set": 27})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.product_set"]
