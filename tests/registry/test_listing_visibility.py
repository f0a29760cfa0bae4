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

import asyncpg
import httpx
import pytest

from tests import builders
from tests.builders import Producer, Unit
from tests.conftest import Run, auth, derived_template, in_process_registry
from tests.support.database import TestDatabase

# Every test here reads the same two worlds, built once per run into a template.
pytestmark = pytest.mark.template("listings")


@dataclass(frozen=True)
class Holdings:
    """What one world registered: the ids listed by each JSON listing, the keys of each export."""

    world: Producer
    ids: dict[str, set[str]]
    exported: dict[str, set[str]]


async def _fill(database: TestDatabase) -> None:
    """Two producers, each in a commune (and province) of its own, each with an entity, a product, an
    idea, a business plan and a change request."""
    async for client, db in in_process_registry(database):
        for _ in range(2):
            world = await builders.producer(client, db)
            plan = await builders.plan(client, world)
            asked = await client.post(
                f"/v1/products/{plan['product_id']}/change-requests",
                json={"name_en": "Squid cake"},
                headers=world.headers,
            )
            assert asked.status_code == 201, asked.text


@pytest.fixture(scope="session")
def listings_template(pg_server: str, run: Run, base_template: TestDatabase) -> TestDatabase:
    """The base template and the two worlds."""
    return derived_template(pg_server, run, base_template, "listings", _fill)


@pytest.fixture
async def worlds(db: asyncpg.Connection) -> tuple[Holdings, Holdings]:
    """The template's two worlds, by commune."""
    rows = await db.fetch(
        """SELECT e.id::text AS entity, e.tax_code, e.province_code, e.commune_code, e.admin_unit_id,
                  p.id::text AS product, p.name, i.id::text AS idea, b.id::text AS plan, c.id::text AS request
           FROM registry.entity e JOIN registry.product p ON p.entity_id = e.id
           JOIN registry.idea i ON i.product_id = p.id JOIN registry.business_plan b ON b.idea_id = i.id
           JOIN registry.change_request c ON c.resource_id = p.id ORDER BY e.commune_code"""
    )
    first, second = (
        Holdings(
            Producer(
                Unit(row["province_code"], row["commune_code"], row["admin_unit_id"], "Xã Thử Nghiệm"),
                {"id": row["entity"]},
                auth("producer", row["entity"], sub="chu-the"),
                *builders.officers(Unit(row["province_code"], row["commune_code"], row["admin_unit_id"], "")),
            ),
            ids={
                "/v1/entities": {row["entity"]},
                "/v1/products": {row["product"]},
                "/v1/ideas": {row["idea"]},
                "/v1/business-plans": {row["plan"]},
                "/v1/change-requests": {row["request"]},
            },
            exported={"/v1/entities/export": {row["tax_code"]}, "/v1/products/export": {row["name"]}},
        )
        for row in rows
    )
    return first, second


LISTINGS = ("/v1/entities", "/v1/products", "/v1/ideas", "/v1/business-plans", "/v1/change-requests")
EXPORTS = ("/v1/entities/export", "/v1/products/export")


def _principals(first: Producer, second: Producer) -> dict[str, tuple[dict[str, str], set[str]]]:
    """Each principal's headers and which of the two worlds ("first", "second") it may see (they are
    in two provinces)."""
    return {
        "admin": (auth("admin"), {"first", "second"}),
        "province officer": (auth("province_officer", first.unit.province_code), {"first"}),
        "commune officer": (auth("commune_officer", first.unit.commune_code), {"first"}),
        "producer": (first.headers, {"first"}),
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


def _expected(worlds: tuple[Holdings, Holdings], name: str, key: str, field: str) -> set[str]:
    """The records of the two worlds principal ``name`` must see in a listing."""
    _, visible = _principals(worlds[0].world, worlds[1].world)[name]
    holdings = {"first": worlds[0], "second": worlds[1]}
    expected: set[str] = set()
    for label in visible:
        expected |= getattr(holdings[label], field)[key]
    return expected


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
    assert await _listed(registry_client, path, headers) == _expected(worlds, name, path, "ids")


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
    assert {row[column] for row in rows} == _expected(worlds, name, path, "exported")
