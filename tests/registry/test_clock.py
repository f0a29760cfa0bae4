"""One clock: at 23:30 UTC it is 06:30 the next day in Vietnam, and the registry goes by Vietnam's date."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import asyncpg
import httpx
import pytest

from services.registry.admin_units.service import REFORM_DATE
from shared import clock
from shared.db import asyncpg_dsn
from shared.text import fold
from tests.conftest import auth
from tests.registry.conftest import entity_body
from tests.registry.factories import Unit
from tests.support.database import TestDatabase

ADMIN = auth("admin")
SCORING = auth("service", "scoring")
VIETNAM_OFFSET = timedelta(hours=7)


def eve(day: date, vietnam_time: str) -> datetime:
    """``vietnam_time`` ("06:30") on ``day`` in Vietnam, as a UTC instant."""
    hours, minutes = map(int, vietnam_time.split(":"))
    return datetime(day.year, day.month, day.day, hours, minutes, tzinfo=UTC) - VIETNAM_OFFSET


# 23:30 UTC on 30 June 2025 is 06:30 on 1 July in Vietnam: the reform is in force there.
REFORM_MORNING = datetime(2025, 6, 30, 23, 30, tzinfo=UTC)
# Seven hours earlier it is 23:30 on 30 June in Vietnam: the old units still stand.
REFORM_EVE = REFORM_MORNING - VIETNAM_OFFSET


@dataclass(frozen=True)
class ReformedCommune:
    """A province with one commune that the 2025 reform replaced by another."""

    province_code: str
    old: Unit
    new: Unit


async def create_reformed_commune(database: TestDatabase) -> ReformedCommune:
    """A fresh province (9x), a commune valid until the reform, and its successor valid from it."""
    connection = await asyncpg.connect(asyncpg_dsn(database.admin_url))
    try:
        while True:
            province = str(random.randint(90, 99))
            old_code, new_code = (f"9{random.randint(0, 9999):04d}" for _ in range(2))
            taken = await connection.fetchval(
                "SELECT count(*) FROM registry.admin_unit WHERE code = ANY($1::text[])", [old_code, new_code]
            )
            if not taken and old_code != new_code:
                break
        await connection.execute(
            """INSERT INTO registry.admin_unit (code, name, name_folded, level, unit_type, province_code)
               VALUES ($1, 'Tỉnh Thử', 'tinh thu', 'province', 'tỉnh', $1) ON CONFLICT DO NOTHING""",
            province,
        )
        insert = """INSERT INTO registry.admin_unit
                        (code, name, name_folded, level, unit_type, parent_code, province_code, valid_from, valid_to)
                    VALUES ($1, $2, $3, 'commune', 'xã', $4, $4, $5, $6) RETURNING id"""
        old_id = await connection.fetchval(
            insert, old_code, "Xã Cũ", fold("Xã Cũ"), province, None, REFORM_DATE
        )
        new_id = await connection.fetchval(
            insert, new_code, "Xã Mới", fold("Xã Mới"), province, REFORM_DATE, None
        )
        await connection.execute(
            "INSERT INTO registry.admin_unit_succession (predecessor_id, successor_id, partial) VALUES ($1, $2, false)",
            old_id, new_id,
        )  # fmt: skip
    finally:
        await connection.close()
    return ReformedCommune(province, Unit(province, old_code, old_id), Unit(province, new_code, new_id))


def test_the_clock_reads_vietnams_date() -> None:
    with clock.frozen_at(REFORM_MORNING):
        assert clock.now() == REFORM_MORNING
        assert clock.now().tzinfo is not None
        assert clock.today() == date(2025, 7, 1)
    with clock.frozen_at(REFORM_EVE):
        assert clock.today() == date(2025, 6, 30)
    assert eve(date(2025, 7, 1), "06:30") == REFORM_MORNING
    naive = datetime(2025, 6, 30, 23, 30)  # noqa: DTZ001 (a naive time is what the clock must refuse)
    with pytest.raises(ValueError, match="timezone-aware"), clock.frozen_at(naive):
        pass


async def _register(client: httpx.AsyncClient, unit: Unit, headers: dict[str, str]) -> httpx.Response:
    return await client.post("/v1/entities", json=entity_body(unit), headers=headers)


async def test_registration_and_units_follow_the_reform_date_in_vietnam(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    place = await create_reformed_commune(database)
    officer = auth("province_officer", place.province_code)
    listing = {"province_code": place.province_code, "level": "commune"}
    with clock.frozen_at(REFORM_MORNING):
        units = (await registry_client.get("/v1/admin-units", params=listing)).json()["items"]
        assert [unit["code"] for unit in units] == [place.new.commune_code]
        superseded = await _register(registry_client, place.old, officer)
        assert superseded.status_code == 422, superseded.text
        assert superseded.json()["errors"][0]["field"] == "body.commune_code"
        assert "ceased to exist on 2025-07-01" in superseded.json()["errors"][0]["message"]
        assert (await _register(registry_client, place.new, officer)).status_code == 201
    with clock.frozen_at(REFORM_EVE):
        units = (await registry_client.get("/v1/admin-units", params=listing)).json()["items"]
        assert [unit["code"] for unit in units] == [place.old.commune_code]
        assert (await _register(registry_client, place.old, officer)).status_code == 201
        upcoming = await _register(registry_client, place.new, officer)
        assert upcoming.status_code == 422, upcoming.text
        assert upcoming.json()["errors"][0]["field"] == "body.commune_code"


async def _new_product(client: httpx.AsyncClient, entity_id: str) -> dict[str, str]:
    body = {"entity_id": entity_id, "name": f"Chả mực {uuid.uuid4().hex[:6]}", "product_set": 8,
            "status": "ready_for_evaluation"}  # fmt: skip
    response = await client.post("/v1/products", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    created: dict[str, str] = response.json()
    return created


async def test_product_codes_take_the_year_in_vietnam(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    place = await create_reformed_commune(database)
    created = await _register(registry_client, place.new, auth("province_officer", place.province_code))
    entity_id = created.json()["id"]
    # 23:30 UTC on 31 December 2025 is 06:30 on 1 January 2026 in Vietnam.
    with clock.frozen_at(datetime(2025, 12, 31, 23, 30, tzinfo=UTC)):
        new_year = await _new_product(registry_client, entity_id)
    with clock.frozen_at(datetime(2025, 12, 31, 16, 30, tzinfo=UTC)):
        old_year = await _new_product(registry_client, entity_id)
    assert new_year["product_code"].endswith("-2026")
    assert old_year["product_code"].endswith("-2025")


async def test_a_certificate_runs_out_at_midnight_in_vietnam(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    place = await create_reformed_commune(database)
    created = await _register(registry_client, place.new, auth("province_officer", place.province_code))
    product = await _new_product(registry_client, created.json()["id"])
    issued_on = clock.today() - timedelta(days=30)
    event = {"product_id": product["id"], "ocop_star": 4, "certificate_number": f"QN-{product['id'][:8]}",
             "issued_on": issued_on.isoformat(), "expires_on": (issued_on + timedelta(days=1095)).isoformat(),
             "level": "province", "status": "active"}  # fmt: skip
    certified = await registry_client.post("/internal/certifications", json=event, headers=SCORING)
    assert certified.status_code == 200, certified.text
    expires_on = date.fromisoformat(certified.json()["certificate_expires_on"])
    path = f"/v1/catalogue/{product['id']}"
    with clock.frozen_at(eve(expires_on, "23:30")):  # 16:30 UTC: the last evening of the certificate
        assert (await registry_client.get(path)).status_code == 200
    with clock.frozen_at(eve(expires_on + timedelta(days=1), "06:30")):  # 23:30 UTC the same day
        assert (await registry_client.get(path)).status_code == 404
