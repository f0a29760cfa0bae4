"""Public statistics: products and entities counted by each key, measured as the change our data makes."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from services.registry.products.classification import GROUP_NAMES
from services.registry.products.models import PRODUCT_STATUSES
from shared import clock
from tests.conftest import auth
from tests.registry.conftest import Producer, certify, entity_body, register_product
from tests.registry.factories import create_unit
from tests.support.database import TestDatabase

ADMIN = auth("admin")
SCORING = auth("service", "scoring")
TODAY = clock.today()


async def _counts(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str | None, int]:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    counts = {item["key"]: item["count"] for item in body["items"]}
    assert sum(counts.values()) == body["total"]
    return counts


def _delta(before: dict[str | None, int], after: dict[str | None, int]) -> dict[str | None, int]:
    change = Counter(after)
    change.subtract(Counter(before))
    return {key: count for key, count in change.items() if count}


async def _register(
    client: httpx.AsyncClient, entity_id: str, name: str, product_set: int, status: str
) -> str:
    body = {"entity_id": entity_id, "name": name, "product_set": product_set, "status": status}
    response = await client.post("/v1/products", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _certify(
    client: httpx.AsyncClient, product_id: str, star: int, issued_on: date, status: str = "active"
) -> None:
    event = {"event_id": str(uuid.uuid4()), "product_id": product_id, "ocop_star": star,
             "certificate_number": f"T-{product_id}-{issued_on.year}", "issuing_authority": "Ủy ban nhân dân tỉnh Thử",
             "issued_on": issued_on.isoformat(), "level": "province", "status": status}  # fmt: skip
    response = await client.post("/internal/certifications", json=event, headers=SCORING)
    assert response.status_code == 200, response.text


PRODUCT_KEYS = ("group", "status", "star", "commune", "year", "certificate_year", "product_set")


async def _product_snapshot(
    client: httpx.AsyncClient, province: str
) -> dict[tuple[str, bool], dict[str | None, int]]:
    snapshot = {
        (by, certified): await _counts(
            client, "/v1/stats/products", by=by, province=province, certified_only=certified
        )
        for by in PRODUCT_KEYS
        for certified in (False, True)
    }
    snapshot[("star, lapsed included", False)] = await _counts(
        client, "/v1/stats/products", by="star", province=province, include_lapsed=True
    )
    return snapshot


async def test_product_counts_by_every_key(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    unit = await create_unit(database)
    officer = auth("commune_officer", unit.commune_code)
    before = await _product_snapshot(registry_client, unit.province_code)
    created = await registry_client.post("/v1/entities", json=entity_body(unit), headers=officer)
    entity_id = created.json()["id"]
    token = uuid.uuid4().hex[:6]
    # Two food products rated 3★ and 4★, a beverage first rated in 2019 and re-recognised since, an idea,
    # and a herbal product whose certificate lapsed.
    cha_muc = await _register(registry_client, entity_id, f"Chả mực {token}", 8, "ready_for_evaluation")
    await _certify(registry_client, cha_muc, 3, TODAY - timedelta(days=20))
    nuoc_mam = await _register(registry_client, entity_id, f"Nước mắm {token}", 9, "ready_for_evaluation")
    await _certify(registry_client, nuoc_mam, 4, TODAY - timedelta(days=20))
    ruou = await _register(registry_client, entity_id, f"Rượu ba kích {token}", 15, "ready_for_evaluation")
    await _certify(registry_client, ruou, 4, date(2019, 6, 1))
    await _certify(registry_client, ruou, 4, date(2022, 6, 1))
    await _certify(registry_client, ruou, 4, date(2025, 6, 1))
    await _register(registry_client, entity_id, f"Ý tưởng {token}", 1, "idea")
    tinh_dau = await _register(
        registry_client, entity_id, f"Tinh dầu tràm {token}", 20, "ready_for_evaluation"
    )
    await _certify(registry_client, tinh_dau, 3, date(2021, 3, 1))
    await _certify(registry_client, tinh_dau, 3, date(2021, 3, 1), status="expired")
    after = await _product_snapshot(registry_client, unit.province_code)

    def change(by: str, certified: bool = False) -> dict[str | None, int]:
        return _delta(before[(by, certified)], after[(by, certified)])

    rated_year = str((TODAY - timedelta(days=20)).year)
    assert change("group") == {"food": 3, "beverages": 1, "herbal": 1}
    assert change("group", True) == {"food": 2, "beverages": 1}
    assert change("status") == {"certified": 3, "idea": 1, "lapsed": 1}
    assert change("status", True) == {"certified": 3}
    # A star is the current certificate's: the lapsed herbal product has none, unless asked.
    assert change("star") == {"3": 1, "4": 2, None: 2}
    assert change("star, lapsed included") == {"3": 2, "4": 2, None: 1}
    assert change("star", True) == {"3": 1, "4": 2}
    assert change("commune") == {unit.commune_code: 5}
    assert change("product_set", True) == {"8": 1, "9": 1, "15": 1}
    # The rating year is the first certificate's; the current certificate has its own year.
    assert change("year", True) == dict(Counter([rated_year, rated_year, "2019"]))
    assert change("certificate_year", True) == dict(Counter([rated_year, rated_year, "2025"]))
    assert change("year") == dict(Counter([rated_year, rated_year, "2019", "2021", None]))


async def test_an_expiring_certificate_still_gives_its_star(
    registry_client: httpx.AsyncClient, producer: Producer
) -> None:
    params = {"by": "star", "province": producer.unit.province_code}
    before = await _counts(registry_client, "/v1/stats/products", **params)
    honey = await register_product(registry_client, str(producer.entity_id), product_set=4)
    await certify(registry_client, honey["id"], 4, TODAY - timedelta(days=1000))
    await certify(registry_client, honey["id"], 4, TODAY - timedelta(days=1000), status="expiring")
    after = await _counts(registry_client, "/v1/stats/products", **params)
    assert _delta(before, after) == {"4": 1}


async def test_items_are_labelled_and_ordered(registry_client: httpx.AsyncClient) -> None:
    groups = (await registry_client.get("/v1/stats/products", params={"by": "group"})).json()["items"]
    assert groups, "the test above registered products"
    assert all(item["label"] == GROUP_NAMES[item["key"]] for item in groups if item["key"] in GROUP_NAMES)
    statuses = (await registry_client.get("/v1/stats/products", params={"by": "status"})).json()["items"]
    assert [item["key"] for item in statuses] == [
        s for s in PRODUCT_STATUSES if s in {i["key"] for i in statuses}
    ]
    stars = (await registry_client.get("/v1/stats/products", params={"by": "star"})).json()["items"]
    keys = [item["key"] for item in stars]
    assert keys == sorted((k for k in keys if k is not None), key=int) + ([None] if None in keys else [])
    sets = (await registry_client.get("/v1/stats/products", params={"by": "product_set"})).json()["items"]
    assert all(item["label"] for item in sets)


async def test_entity_counts_by_type_and_commune(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    unit = await create_unit(database)
    officer = auth("commune_officer", unit.commune_code)
    by_type = await _counts(registry_client, "/v1/stats/entities", by="type", province=unit.province_code)
    by_commune = await _counts(
        registry_client, "/v1/stats/entities", by="commune", province=unit.province_code
    )
    for entity_type in ("cooperative", "cooperative", "household_business"):
        body = entity_body(unit, entity_type=entity_type, legal_name=f"Chủ thể {uuid.uuid4().hex[:6]}")
        assert (await registry_client.post("/v1/entities", json=body, headers=officer)).status_code == 201
    after_type = await _counts(registry_client, "/v1/stats/entities", by="type", province=unit.province_code)
    after_commune = await _counts(
        registry_client, "/v1/stats/entities", by="commune", province=unit.province_code
    )
    assert _delta(by_type, after_type) == {"cooperative": 2, "household_business": 1}
    assert _delta(by_commune, after_commune) == {unit.commune_code: 3}
    labelled = (
        await registry_client.get(
            "/v1/stats/entities", params={"by": "commune", "province": unit.province_code}
        )
    ).json()
    assert {"key": unit.commune_code, "label": "Xã Thử Nghiệm", "count": 3} in labelled["items"]


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
