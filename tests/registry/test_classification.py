"""The classification versions as data: 26/2026's six sectors and seventeen groups are its own."""

from __future__ import annotations

from typing import get_args

import httpx
import pytest

from services.registry.catalogue.schemas import ProductGroup
from services.registry.products.classification import GROUP_NAMES, V148, V1048, V2026, VERSIONS, classify
from tests import builders
from tests.builders import Producer


@pytest.mark.parametrize("code", list(VERSIONS))
def test_every_product_set_sits_in_exactly_one_group(code: str) -> None:
    version = VERSIONS[code]
    placed = sorted(number for group in version.groups.values() for number in group.sets)
    assert placed == list(range(1, 27))
    assert {group.sector for group in version.groups.values()} == set(version.sectors)


def test_26_2026_has_six_sectors_and_seventeen_groups_of_its_own() -> None:
    assert len(V2026.sectors) == 6
    assert len(V2026.groups) == 17
    assert not set(V2026.groups) & set(V148.groups), "26/2026 groups are not 148's"
    assert {key: len(group.sets) for key, group in V2026.groups.items() if group.sector == "food"} == {
        "fresh_food": 2, "raw_food": 2, "processed_food": 4, "condiments": 2, "tea": 2, "coffee_cocoa": 1,
    }  # fmt: skip
    assert classify(11, "26/2026") == ("tea", "food")
    assert classify(11, "148") == ("food", "food")
    assert classify(11, "1048") == ("beverages", "beverages")
    assert V2026.groups["tea"].name == "Chè"
    assert V2026.sectors["herbal"] == "Sản phẩm dược liệu và sản phẩm từ dược liệu"


def test_the_catalogue_filter_takes_every_group_key() -> None:
    assert set(get_args(ProductGroup)) == set(GROUP_NAMES)
    assert set(GROUP_NAMES) == {key for version in (V148, V2026, V1048) for key in version.groups}


@pytest.mark.commits  # the catalogue is read outside any transaction
async def test_a_26_2026_product_is_counted_and_found_by_its_own_group(
    registry_client: httpx.AsyncClient, producer: Producer
) -> None:
    tea = await builders.certified_product(
        registry_client, producer, product_set=11, classification="26/2026"
    )
    assert (tea["product_group"], tea["sector"]) == ("tea", "food")

    stats = await registry_client.get("/v1/stats/products", params={"by": "group"})
    assert stats.json()["items"] == [{"key": "tea", "label": "Chè", "count": 1}]
    by_group = await registry_client.get("/v1/catalogue", params={"group": "tea"})
    assert [item["id"] for item in by_group.json()["items"]] == [tea["id"]]
    assert by_group.json()["items"][0]["type"] == "tea"
    as_148_food = await registry_client.get("/v1/catalogue", params={"group": "food"})
    assert as_148_food.json()["items"] == []
