"""The demo data set reproduces Quảng Ninh's published 2017–2020 breakdown, through the statistics API.

The registry registers the demo's entities and products; their ratings are scoring's (its demo
history announces every certificate), so these tests run on the template of ``ocop seed --demo``
that loads both. tests/scoring/test_demo.py compares the two services row for row."""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest

from services.registry.demo.generator import (
    FIRST_RATING_YEARS,
    GROUP_COUNTS,
    STAR_COUNTS,
    TAX_CODE_PREFIX,
    UNRATED_STATUSES,
    generate,
)
from shared import clock
from tests.conftest import auth, repo_root
from tests.support.database import TestDatabase

PROVINCE = "22"
ENTITY_TYPES = {"enterprise": 66, "cooperative": 110, "cooperative_group": 8, "household_business": 96}
# The demo data set is loaded once per run into a template (it takes seconds); each test starts from it.
pytestmark = pytest.mark.template("demo")


async def _stats(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str | None, int]:
    response = await client.get(path, params={"province": PROVINCE, **params})
    assert response.status_code == 200, response.text
    return {item["key"]: item["count"] for item in response.json()["items"]}


async def test_statistics_reproduce_the_published_breakdown(registry_client: httpx.AsyncClient) -> None:
    assert await _stats(registry_client, "/v1/stats/products", by="group") == GROUP_COUNTS
    assert GROUP_COUNTS == {"food": 314, "beverages": 90, "herbal": 41, "handicrafts": 8, "tourism": 3}
    stars = await _stats(registry_client, "/v1/stats/products", by="star", certified_only=True)
    assert stars == {"3": 162, "4": 67, "5": 7}
    years = await _stats(registry_client, "/v1/stats/products", by="year", certified_only=True)
    assert years == {"2017": 85, "2018": 55, "2019": 56, "2020": 40}
    statuses = await _stats(registry_client, "/v1/stats/products", by="status")
    assert statuses == {"certified": 236, **UNRATED_STATUSES}
    assert sum(statuses.values()) == 456


async def test_entities_by_type(registry_client: httpx.AsyncClient) -> None:
    assert await _stats(registry_client, "/v1/stats/entities", by="type") == ENTITY_TYPES


async def test_producers_are_in_todays_communes(db: asyncpg.Connection) -> None:
    rows = await db.fetch(
        "SELECT e.tax_code, e.commune_code, u.valid_from, u.valid_to, e.representative_name, "
        "e.representative_gender, e.representative_ethnicity, e.entity_type, e.legal_name "
        "FROM registry.entity e JOIN registry.admin_unit u ON u.id = e.admin_unit_id"
    )
    assert len(rows) == sum(ENTITY_TYPES.values())
    assert {row["valid_from"] for row in rows} == {date(2025, 7, 1)}
    assert {row["valid_to"] for row in rows} == {None}
    assert len({row["commune_code"] for row in rows}) == 54
    assert all(row["tax_code"].startswith(TAX_CODE_PREFIX) and row["tax_code"].isdigit() for row in rows)
    assert {len(row["tax_code"]) for row in rows} == {10}
    people = [row for row in rows if row["representative_gender"]]
    assert {row["representative_ethnicity"] for row in people} >= {"Kinh", "Tày", "Dao"}
    assert {row["representative_gender"] for row in people} == {"female", "male"}
    prefixes = Counter(row["legal_name"].split()[0] for row in rows)
    assert set(prefixes) <= {"Công", "Hợp", "Tổ", "Hộ", "Cơ"}


async def test_real_products_are_in_the_catalogue(registry_client: httpx.AsyncClient) -> None:
    found = await registry_client.get(
        "/v1/catalogue", params={"q": "ruou ba kich", "province": PROVINCE, "limit": 200}
    )
    names = [item["name"] for item in found.json()["items"]]
    assert {"Rượu ba kích Ba Chẽ", "Rượu ba kích đặc sản Quảng Ninh"} <= set(names)
    national = await registry_client.get(
        "/v1/catalogue", params={"is_national": "true", "province": PROVINCE}
    )
    # Every 5★ is national: a 5★ is recognised by the central level only.
    assert sorted(item["name"] for item in national.json()["items"]) == [
        "Ngọc trai Akoya", "Ngọc trai Southsea", "Ngọc trai Tahiti", "Ruốc cơ trai", "Ruốc hàu Thái Bình Dương",
        "Trà hoa vàng Ba Chẽ", "Trà hoa vàng Quy Hoa",
    ]  # fmt: skip
    tea = next(item for item in national.json()["items"] if item["name"] == "Trà hoa vàng Ba Chẽ")
    assert tea["ocop_certificate_number"].startswith("OCOP-TW-2025-")
    assert tea["issued_on"] == "2025-01-17"
    recorded = (await registry_client.get(f"/v1/products/{tea['id']}", headers=auth("admin"))).json()
    assert (recorded["certificate_decision_number"], recorded["certificate_authority"]) == (
        "377/QĐ-BNN-VPĐP", "Bộ Nông nghiệp và Phát triển nông thôn"
    )  # fmt: skip
    assert tea["manufacturer"]["name"] == "Công ty CP Kinh doanh lâm sản Đạp Thanh"
    assert tea["commune"] == {"code": "06979", "name": "Kỳ Thượng"}
    assert tea["province"] == {"code": "22", "name": "Quảng Ninh"}


async def test_loading_again_changes_nothing(database: TestDatabase, db: asyncpg.Connection) -> None:
    snapshot = (
        "SELECT (SELECT count(*) FROM registry.entity) AS entities, (SELECT count(*) FROM registry.product) AS products,"
        " (SELECT count(*) FROM registry.product_change) AS changes,"
        " (SELECT md5(string_agg(id::text || status || coalesce(certificate_number, ''), ',' ORDER BY id))"
        "  FROM registry.product) AS digest"
    )
    before = dict(await db.fetchrow(snapshot))
    environment = {
        **os.environ,
        "REGISTRY_DATABASE_URL": database.urls["registry"],
        "PYTHONPATH": str(repo_root()),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.registry.commands.seed", "--demo",
        env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=300)
    assert process.returncode == 0, stderr.decode()
    assert "already there" in (stdout + stderr).decode()
    assert dict(await db.fetchrow(snapshot)) == before


def test_the_generator_is_deterministic_and_consistent() -> None:
    """The same data every run; the ratings plan (scoring's data) gives the published figures."""
    today = clock.today()
    first, second = generate(today), generate(today)
    assert [(p.name, p.entity.tax_code, p.ratings, p.renewed) for p in first.products] == [
        (p.name, p.entity.tax_code, p.ratings, p.renewed) for p in second.products
    ]
    rated = [p for p in first.products if p.ratings and p.renewed]
    assert Counter(p.star for p in rated) == Counter(STAR_COUNTS)
    assert Counter(p.ratings[0].rated_on.year for p in rated) == Counter(FIRST_RATING_YEARS)
    assert all(p.initial_status == "ready_for_evaluation" for p in first.products if p.ratings)
    for product in rated:
        days = [rating.rated_on for rating in product.ratings]
        assert days == sorted(days)
        assert product.ratings[-1].star == product.star
    ratings = [r for p in first.products for r in p.ratings]
    # 5★ central only; 3★ a district's while 781 and 148 let districts certify it; other 3–4★ the province's.
    assert {r.level for r in ratings if r.star == 5} == {"central"}
    districts = {
        r.level == "district"
        for r in ratings
        if r.star == 3 and date(2020, 6, 8) <= r.rated_on < date(2025, 7, 6)
    }
    assert districts == {True}
    assert {
        r.level for r in ratings if r.star < 5 and not date(2020, 6, 8) <= r.rated_on < date(2025, 7, 6)
    } == {"province"}
    lapsed = [p for p in first.products if p.ratings and not p.renewed]
    assert len(lapsed) == UNRATED_STATUSES["lapsed"]
    assert all(
        len(p.ratings) == 1 and date(2021, 1, 1) <= p.first_rated_on < date(2023, 1, 1) for p in lapsed
    )
    assert all(p.initial_status == "ready_for_evaluation" and p.star is None for p in lapsed)
    assert len({p.name for p in first.products}) == len(first.products)
    assert len({e.legal_name for e in first.entities}) == len(first.entities)
    assert all(e.tax_code.startswith(TAX_CODE_PREFIX) for e in first.entities)
    assert Counter(p.group for p in first.products) == Counter(GROUP_COUNTS)
    assert all(e.product_count >= 1 for e in first.entities)
