"""The catalogue's commune filter takes a pre-2025 code to the communes it became."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from shared import clock
from tests.conftest import auth
from tests.registry.conftest import certify, entity_body, register_product
from tests.registry.factories import Unit, create_reformed_commune, create_unit
from tests.support.database import TestDatabase

# 23:30 on 30 June 2025 in Vietnam: the last evening of the pre-2025 communes.
BEFORE_REFORM = datetime(2025, 6, 30, 16, 30, tzinfo=UTC)


async def _certified_product(client: httpx.AsyncClient, unit: Unit, province_officer: dict[str, str]) -> str:
    entity = await client.post("/v1/entities", json=entity_body(unit), headers=province_officer)
    assert entity.status_code == 201, entity.text
    product = await register_product(client, entity.json()["id"])
    await certify(client, product["id"], 3, clock.today() - timedelta(days=10))
    return str(product["id"])


async def _found(client: httpx.AsyncClient, commune: str) -> set[str]:
    response = await client.get("/v1/catalogue", params={"commune": commune, "limit": 100})
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


async def test_a_pre_2025_commune_code_finds_the_products_of_its_successor(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    place = await create_reformed_commune(database)
    officer = auth("province_officer", place.province_code)
    with clock.frozen_at(BEFORE_REFORM):  # registered in the old commune, which its records keep
        registered_before = await _certified_product(registry_client, place.old, officer)
    registered_after = await _certified_product(registry_client, place.new, officer)
    elsewhere = await create_unit(database)
    await _certified_product(registry_client, elsewhere, auth("province_officer", elsewhere.province_code))

    assert await _found(registry_client, place.old.commune_code) == {registered_before, registered_after}
    assert await _found(registry_client, place.new.commune_code) == {registered_after}
    # A code that names no unit finds nothing (and is no error).
    assert await _found(registry_client, "00000") == set()
