"""One clock: at 23:30 UTC it is 06:30 the next day in Vietnam, and the registry goes by Vietnam's date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import asyncpg
import httpx
import pytest

from shared import clock
from tests import builders
from tests.builders import ReformedCommune, Unit

VIETNAM_OFFSET = timedelta(hours=7)


def eve(day: date, vietnam_time: str) -> datetime:
    """``vietnam_time`` ("06:30") on ``day`` in Vietnam, as a UTC instant."""
    hours, minutes = map(int, vietnam_time.split(":"))
    return datetime(day.year, day.month, day.day, hours, minutes, tzinfo=UTC) - VIETNAM_OFFSET


# 23:30 UTC on 30 June 2025 is 06:30 on 1 July in Vietnam: the reform is in force there.
REFORM_MORNING = datetime(2025, 6, 30, 23, 30, tzinfo=UTC)
# Seven hours earlier it is 23:30 on 30 June in Vietnam: the old units still stand.
REFORM_EVE = REFORM_MORNING - VIETNAM_OFFSET


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


async def _register(client: httpx.AsyncClient, unit: Unit) -> httpx.Response:
    """An entity registered in ``unit`` by its province's officer (the caller checks the answer)."""
    return await client.post(
        "/v1/entities", json=builders.entity_body(unit), headers=builders.officers(unit)[1]
    )


async def _listed(client: httpx.AsyncClient, place: ReformedCommune) -> set[str]:
    """Which of the place's two communes the unit listing shows (valid today, by default)."""
    listed = set()
    for code in (place.old.commune_code, place.new.commune_code):
        response = await client.get("/v1/admin-units", params={"q": code, "level": "commune"})
        listed |= {unit["code"] for unit in response.json()["items"]} & {code}
    return listed


async def test_registration_and_units_follow_the_reform_date_in_vietnam(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    place = await builders.reformed_commune(db)
    with clock.frozen_at(REFORM_MORNING):
        assert await _listed(registry_client, place) == {place.new.commune_code}
        superseded = await _register(registry_client, place.old)
        assert superseded.status_code == 422, superseded.text
        assert superseded.json()["errors"][0]["field"] == "body.commune_code"
        assert "ceased to exist on 2025-07-01" in superseded.json()["errors"][0]["message"]
        assert (await _register(registry_client, place.new)).status_code == 201
    with clock.frozen_at(REFORM_EVE):
        assert await _listed(registry_client, place) == {place.old.commune_code}
        assert (await _register(registry_client, place.old)).status_code == 201
        upcoming = await _register(registry_client, place.new)
        assert upcoming.status_code == 422, upcoming.text
        assert upcoming.json()["errors"][0]["field"] == "body.commune_code"


async def test_product_codes_take_the_year_in_vietnam(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    place = await builders.reformed_commune(db)
    owner = await builders.producer(registry_client, db, place.new)
    # 23:30 UTC on 31 December 2025 is 06:30 on 1 January 2026 in Vietnam.
    with clock.frozen_at(datetime(2025, 12, 31, 23, 30, tzinfo=UTC)):
        new_year = await builders.product(registry_client, owner)
    with clock.frozen_at(datetime(2025, 12, 31, 16, 30, tzinfo=UTC)):
        old_year = await builders.product(registry_client, owner)
    assert new_year["product_code"].endswith("-2026")
    assert old_year["product_code"].endswith("-2025")


@pytest.mark.commits  # the catalogue is read outside any transaction
async def test_a_certificate_runs_out_at_midnight_in_vietnam(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    place = await builders.reformed_commune(db)
    product = await builders.certified_product(
        registry_client, await builders.producer(registry_client, db, place.new)
    )
    expires_on = date.fromisoformat(product["certificate_expires_on"])
    path = f"/v1/catalogue/{product['id']}"
    with clock.frozen_at(eve(expires_on, "23:30")):  # 16:30 UTC: the last evening of the certificate
        assert (await registry_client.get(path)).status_code == 200
    with clock.frozen_at(eve(expires_on + timedelta(days=1), "06:30")):  # 23:30 UTC the same day
        assert (await registry_client.get(path)).status_code == 404
