"""The catalogue's commune filter takes a pre-2025 code to the communes it became."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from shared import clock
from tests import builders
from tests.builders import Unit

# 23:30 on 30 June 2025 in Vietnam: the last evening of the pre-2025 communes.
BEFORE_REFORM = datetime(2025, 6, 30, 16, 30, tzinfo=UTC)
# The catalogue is read outside any transaction: it sees only committed rows.
pytestmark = pytest.mark.commits


async def _certified_product(client: httpx.AsyncClient, db: asyncpg.Connection, unit: Unit) -> str:
    owner = await builders.producer(client, db, unit, headers=builders.officers(unit)[1])
    product = await builders.certified_product(
        client, owner, star=3, issued_on=clock.today() - timedelta(days=10)
    )
    return str(product["id"])


async def _found(client: httpx.AsyncClient, commune: str) -> set[str]:
    response = await client.get("/v1/catalogue", params={"commune": commune, "limit": 100})
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


async def test_a_pre_2025_commune_code_finds_the_products_of_its_successor(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    place = await builders.reformed_commune(db)
    with clock.frozen_at(BEFORE_REFORM):  # registered in the old commune, which its records keep
        registered_before = await _certified_product(registry_client, db, place.old)
    registered_after = await _certified_product(registry_client, db, place.new)
    await _certified_product(registry_client, db, await builders.unit(db))

    assert await _found(registry_client, place.old.commune_code) == {registered_before, registered_after}
    assert await _found(registry_client, place.new.commune_code) == {registered_after}
    # A code that names no unit finds nothing (and is no error).
    assert await _found(registry_client, "00000") == set()
