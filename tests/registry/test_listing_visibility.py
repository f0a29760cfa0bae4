"""Every listing of the registry, with principals of every role and with broken scope claims.

Two producers in two new communes each get an entity, a product, an idea and a business plan. Each
principal then reads every listing; it must see exactly the records its role and claim admit: its own
unit or entity, everything for our own services, or nothing at all for a missing or malformed claim
and for roles the registry's listings do not name.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import auth
from tests.registry.test_cycle import World, make_world, new_plan
from tests.support.database import TestDatabase


@dataclass(frozen=True)
class Holdings:
    """What one world registered: the ids listed by each JSON listing, the keys of each export."""

    world: World
    tax_code: str
    ids: dict[str, set[str]]
    exported: dict[str, set[str]]


async def _holdings(client: httpx.AsyncClient, database: TestDatabase) -> Holdings:
    world = await make_world(client, database)
    plan = await new_plan(client, world)
    entity = (await client.get(f"/v1/entities/{world.entity_id}", headers=world.producer)).json()
    product = (await client.get(f"/v1/products/{plan['product_id']}", headers=world.producer)).json()
    asked = await client.post(
        f"/v1/products/{plan['product_id']}/change-requests",
        json={"name_en": "Squid cake"},
        headers=world.producer,
    )
    assert asked.status_code == 201, asked.text
    return Holdings(
        world,
        entity["tax_code"],
        ids={
            "/v1/entities": {world.entity_id},
            "/v1/products": {plan["product_id"]},
            "/v1/ideas": {plan["idea_id"]},
            "/v1/business-plans": {plan["id"]},
            "/v1/change-requests": {asked.json()["id"]},
        },
        exported={"/v1/entities/export": {entity["tax_code"]}, "/v1/products/export": {product["name"]}},
    )


@pytest.fixture(scope="module")
async def worlds(registry_client: httpx.AsyncClient, database: TestDatabase) -> tuple[Holdings, Holdings]:
    """Two producers, each in a commune of its own."""
    return await _holdings(registry_client, database), await _holdings(registry_client, database)


LISTINGS = ("/v1/entities", "/v1/products", "/v1/ideas", "/v1/business-plans", "/v1/change-requests")
EXPORTS = ("/v1/entities/export", "/v1/products/export")


def _principals(first: World, second: World) -> dict[str, tuple[dict[str, str], set[str]]]:
    """Each principal's headers and which of the two worlds ("first", "second") it may see."""
    same_province = first.unit.province_code == second.unit.province_code
    return {
        "admin": (auth("admin"), {"first", "second"}),
        "province officer": (
            auth("province_officer", first.unit.province_code),
            {"first", "second"} if same_province else {"first"},
        ),
        "commune officer": (auth("commune_officer", first.unit.commune_code), {"first"}),
        "producer": (first.producer, {"first"}),
        "producer of an unknown entity": (auth("producer", str(uuid.uuid4())), set()),
        # Missing or malformed claims see nothing, whatever the role.
        "province officer without a scope": (auth("province_officer"), set()),
        "province officer with a commune code": (auth("province_officer", first.unit.commune_code), set()),
        "commune officer without a scope": (auth("commune_officer"), set()),
        "commune officer with a province code": (auth("commune_officer", first.unit.province_code), set()),
        "commune officer with a pattern": (auth("commune_officer", f"{first.unit.commune_code[:4]}%"), set()),
        "producer without a scope": (auth("producer"), set()),
        "producer with a malformed id": (auth("producer", first.entity_id[:-1]), set()),
        "producer with a commune code": (auth("producer", first.unit.commune_code), set()),
        # Roles the registry's listings do not name.
        "partner": (auth("partner", "shopee"), set()),
        "national": (auth("national", "moit"), set()),
        "council member": (auth("council_member", str(uuid.uuid4())), set()),
        # Our own services read every record (scoring pins a product and its entity at submission).
        "service": (auth("service", "scoring"), {"first", "second"}),
    }


PRINCIPAL_NAMES = [
    "admin", "province officer", "commune officer", "producer", "producer of an unknown entity",
    "province officer without a scope", "province officer with a commune code",
    "commune officer without a scope", "commune officer with a province code",
    "commune officer with a pattern", "producer without a scope", "producer with a malformed id",
    "producer with a commune code", "partner", "national", "council member", "service",
]  # fmt: skip
STAFF_WITH_SCOPE = {"admin", "province officer", "commune officer"}


def _expected(worlds: tuple[Holdings, Holdings], name: str, key: str, field: str) -> tuple[set[str], bool]:
    """The records of the two worlds principal ``name`` must see in a listing, and whether it is exact."""
    _, visible = _principals(worlds[0].world, worlds[1].world)[name]
    holdings = {"first": worlds[0], "second": worlds[1]}
    expected: set[str] = set()
    for label in visible:
        expected |= getattr(holdings[label], field)[key]
    # Everyone but the admin, a province officer and a service sees only rows of our two new communes,
    # so the comparison is exact; those three also see other tests' rows.
    exact = name not in ("admin", "province officer", "service")
    return expected, exact


async def _listed(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> set[str]:
    ids: set[str] = set()
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 200} | ({"cursor": cursor} if cursor else {})
        response = await client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        ids |= {item["id"] for item in body["items"]}
        cursor = body["next_cursor"]
        if cursor is None:
            return ids


@pytest.mark.parametrize("path", LISTINGS)
@pytest.mark.parametrize("name", PRINCIPAL_NAMES)
async def test_each_principal_lists_exactly_what_it_may(
    registry_client: httpx.AsyncClient, worlds: tuple[Holdings, Holdings], path: str, name: str
) -> None:
    headers, _ = _principals(worlds[0].world, worlds[1].world)[name]
    expected, exact = _expected(worlds, name, path, "ids")
    listed = await _listed(registry_client, path, headers)
    ours = worlds[0].ids[path] | worlds[1].ids[path]
    if exact:
        assert listed == expected
    else:
        assert listed & ours == expected


@pytest.mark.parametrize("path", EXPORTS)
@pytest.mark.parametrize("name", PRINCIPAL_NAMES)
async def test_each_principal_exports_exactly_what_it_may(
    registry_client: httpx.AsyncClient, worlds: tuple[Holdings, Holdings], path: str, name: str
) -> None:
    headers, _ = _principals(worlds[0].world, worlds[1].world)[name]
    response = await registry_client.get(path, headers=headers)
    if name not in STAFF_WITH_SCOPE and not name.startswith(("province officer", "commune officer")):
        # Exports are staff work: everyone else is refused before anything is read.
        assert response.status_code == 403, response.text
        return
    assert response.status_code == 200, response.text
    column = "tax_code" if path == "/v1/entities/export" else "name"
    rows = csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))
    exported = {row[column] for row in rows}
    expected, exact = _expected(worlds, name, path, "exported")
    ours = worlds[0].exported[path] | worlds[1].exported[path]
    if exact:
        assert exported == expected
    else:
        assert exported & ours == expected
