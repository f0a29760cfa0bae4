"""Public statistics: products and entities counted by each key."""

from __future__ import annotations

import functools
import uuid
from collections import Counter
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.registry.products.classification import GROUP_NAMES
from services.registry.products.models import PRODUCT_STATUSES
from shared import clock
from tests import builders
from tests.builders import ADMIN, Unit
from tests.conftest import auth

TODAY = clock.today()
PRODUCT_KEYS = ("group", "status", "star", "commune", "year", "certificate_year", "product_set")


async def _counts(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str | None, int]:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    counts = {item["key"]: item["count"] for item in body["items"]}
    assert sum(counts.values()) == body["total"]
    return counts


@pytest.fixture
async def unit(registry_client: httpx.AsyncClient, db: asyncpg.Connection) -> Unit:
    """A commune whose entity has five products: two food products rated 3★ and 4★, a beverage first
    rated in 2019 and re-recognised since, an idea, and a herbal product whose certificate lapsed."""
    owner = await builders.producer(registry_client, db)

    recent = TODAY - timedelta(days=20)
    rated = functools.partial(builders.certified_product, registry_client, owner)
    await rated(name="Chả mực", product_set=8, star=3, issued_on=recent)
    await rated(name="Nước mắm", product_set=9, star=4, issued_on=recent)
    wine = await rated(name="Rượu ba kích", product_set=15, issued_on=date(2019, 6, 1))
    for year in (2022, 2025):  # re-recognised every three years
        await builders.certify(registry_client, wine["id"], issued_on=date(year, 6, 1))
    await builders.product(
        registry_client, owner, headers=ADMIN, name="Ý tưởng", product_set=1, status="idea"
    )
    await rated(name="Tinh dầu tràm", product_set=20, star=3, issued_on=date(2021, 3, 1), then=("expired",))
    return owner.unit


async def test_product_counts_by_every_key(registry_client: httpx.AsyncClient, unit: Unit) -> None:
    async def counts(by: str, certified: bool = False, **params: Any) -> dict[str | None, int]:
        return await _counts(registry_client, "/v1/stats/products", by=by, certified_only=certified, **params)

    rated_year = str((TODAY - timedelta(days=20)).year)
    assert await counts("group") == {"food": 3, "beverages": 1, "herbal": 1}
    assert await counts("group", True) == {"food": 2, "beverages": 1}
    assert await counts("status") == {"certified": 3, "idea": 1, "lapsed": 1}
    assert await counts("status", True) == {"certified": 3}
    # A star is the current certificate's: the lapsed herbal product has none, unless asked.
    assert await counts("star") == {"3": 1, "4": 2, None: 2}
    assert await counts("star", include_lapsed=True) == {"3": 2, "4": 2, None: 1}
    assert await counts("star", True) == {"3": 1, "4": 2}
    assert await counts("commune") == {unit.commune_code: 5}
    assert await counts("product_set", True) == {"8": 1, "9": 1, "15": 1}
    # The rating year is the first certificate's; the current certificate has its own year.
    assert await counts("year", True) == dict(Counter([rated_year, rated_year, "2019"]))
    assert await counts("certificate_year", True) == dict(Counter([rated_year, rated_year, "2025"]))
    assert await counts("year") == dict(Counter([rated_year, rated_year, "2019", "2021", None]))
    for by in PRODUCT_KEYS:
        assert await counts(by, province=unit.province_code) == await counts(by), by
        assert await counts(by, province="01") == {}, by


async def test_items_are_labelled_and_ordered(registry_client: httpx.AsyncClient, unit: Unit) -> None:
    groups = (await registry_client.get("/v1/stats/products", params={"by": "group"})).json()["items"]
    assert [(item["key"], item["label"]) for item in groups] == [
        (key, GROUP_NAMES[key]) for key in ("food", "beverages", "herbal")
    ]
    statuses = (await registry_client.get("/v1/stats/products", params={"by": "status"})).json()["items"]
    assert [item["key"] for item in statuses] == [
        s for s in PRODUCT_STATUSES if s in {"certified", "idea", "lapsed"}
    ]
    stars = (await registry_client.get("/v1/stats/products", params={"by": "star"})).json()["items"]
    assert [item["key"] for item in stars] == ["3", "4", None]
    sets = (await registry_client.get("/v1/stats/products", params={"by": "product_set"})).json()["items"]
    assert [item["key"] for item in sets] == ["1", "8", "9", "15", "20"]
    assert all(item["label"] for item in sets)


async def test_an_expiring_certificate_still_gives_its_star(
    registry_client: httpx.AsyncClient, producer: builders.Producer
) -> None:
    issued = TODAY - timedelta(days=1000)
    await builders.certified_product(
        registry_client, producer, product_set=4, issued_on=issued, then=("expiring",)
    )
    assert await _counts(registry_client, "/v1/stats/products", by="star") == {"4": 1}


async def test_entity_counts_by_type_and_commune(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    unit = await builders.unit(db)
    for entity_type in ("cooperative", "cooperative", "household_business"):
        await builders.entity(registry_client, unit, entity_type=entity_type)
    by_type = await _counts(registry_client, "/v1/stats/entities", by="type", province=unit.province_code)
    assert by_type == {"cooperative": 2, "household_business": 1}
    labelled = (
        await registry_client.get(
            "/v1/stats/entities", params={"by": "commune", "province": unit.province_code}
        )
    ).json()
    assert labelled["items"] == [{"key": unit.commune_code, "label": "Xã Thử Nghiệm", "count": 3}]


async def test_statistics_are_public(registry_client: httpx.AsyncClient) -> None:
    for headers in ({}, auth("producer", str(uuid.uuid4())), auth("partner", "portal-1")):
        products = await registry_client.get("/v1/stats/products", params={"by": "group"}, headers=headers)
        assert products.status_code == 200
        assert products.headers["cache-control"] == "public, max-age=60"
        assert (
            await registry_client.get("/v1/stats/entities", params={"by": "type"}, headers=headers)
        ).status_code == 200
    bad = {"Authorization": "Bearer not-a-token"}
    assert (
        await registry_client.get("/v1/stats/products", params={"by": "group"}, headers=bad)
    ).status_code == 401


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/stats/products", {}, "query.by"),
        ("/v1/stats/products", {"by": "colour"}, "query.by"),
        ("/v1/stats/products", {"by": "group", "province": "QN"}, "query.province"),
        ("/v1/stats/products", {"by": "group", "certified_only": "maybe"}, "query.certified_only"),
        ("/v1/stats/products", {"by": "star", "include_lapsed": "sometimes"}, "query.include_lapsed"),
        ("/v1/stats/entities", {"by": "group"}, "query.by"),
        ("/v1/stats/entities", {"by": "type", "province": "222"}, "query.province"),
    ],
)
async def test_bad_parameters_are_422_naming_the_field(
    registry_client: httpx.AsyncClient, path: str, params: dict[str, str], field: str
) -> None:
    response = await registry_client.get(path, params=params)
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]
