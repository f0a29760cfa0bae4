"""Registering, reading, listing and changing OCOP entities, with their access rules."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import pytest

from tests import builders
from tests.builders import entity_body
from tests.conftest import auth


async def test_commune_officer_registers_an_entity(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    unit = await builders.unit(db)
    body = entity_body(unit, legal_name="Hợp tác xã Trứng vịt biển Đồng Rui")
    response = await registry_client.post(
        "/v1/entities", json=body, headers=auth("commune_officer", unit.commune_code)
    )
    assert response.status_code == 201, response.text
    entity = response.json()
    assert response.headers["location"] == f"/v1/entities/{entity['id']}"
    assert entity["legal_name"] == "Hợp tác xã Trứng vịt biển Đồng Rui"
    assert entity["commune_code"] == unit.commune_code
    assert entity["province_code"] == unit.province_code
    assert entity["raw_material_area_ha"] == "12.50"
    assert entity["certifications"] == ["VietGAP"]


async def test_duplicate_tax_code_is_409(registry_client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    unit = await builders.unit(db)
    first = await builders.entity(registry_client, unit)
    again = await registry_client.post(
        "/v1/entities",
        json=entity_body(unit, tax_code=first["tax_code"]),
        headers=auth("commune_officer", unit.commune_code),
    )
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/entity-tax-code-taken"
    assert again.json()["field"] == "body.tax_code"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tax_code", "12345"),
        ("tax_code", "570123456A"),
        ("entity_type", "company"),
        ("commune_code", "7090"),
        ("email", "not-an-email"),
        ("members_count", -1),
        ("raw_material_area_ha", "-3"),
        ("representative_gender", "unknown"),
        ("website", "ftp://x"),
    ],
)
async def test_invalid_field_is_named(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection, field: str, value: object
) -> None:
    unit = await builders.unit(db)
    response = await registry_client.post(
        "/v1/entities",
        json=entity_body(unit, **{field: value}),
        headers=auth("commune_officer", unit.commune_code),
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [f"body.{field}"]


async def test_unknown_commune_is_422_on_commune_code(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    unit = await builders.unit(db)
    response = await registry_client.post(
        "/v1/entities", json=entity_body(unit, commune_code="00001"), headers=auth("admin")
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.commune_code"


async def test_who_may_register(registry_client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    unit = await builders.unit(db)
    other = await builders.unit(db)
    cases = [
        ({}, 401),
        (auth("producer", str(uuid.uuid4())), 403),
        (auth("commune_officer", other.commune_code), 403),
        (auth("province_officer", other.province_code), 403),
        (auth("partner", "portal"), 403),
        (auth("province_officer", unit.province_code), 201),
        (auth("admin"), 201),
    ]
    for headers, expected in cases:
        response = await registry_client.post("/v1/entities", json=entity_body(unit), headers=headers)
        assert response.status_code == expected, (headers, response.text)


async def test_read_rules(
    registry_client: httpx.AsyncClient, producer: builders.Producer, db: asyncpg.Connection
) -> None:
    other_unit = await builders.unit(db)
    path = f"/v1/entities/{producer.entity_id}"
    assert (await registry_client.get(path, headers=producer.headers)).status_code == 200
    assert (
        await registry_client.get(path, headers=auth("commune_officer", producer.unit.commune_code))
    ).status_code == 200
    assert (
        await registry_client.get(path, headers=auth("province_officer", producer.unit.province_code))
    ).status_code == 200
    # Another producer, another unit's officer: as if it did not exist.
    assert (await registry_client.get(path, headers=auth("producer", str(uuid.uuid4())))).status_code == 404
    assert (
        await registry_client.get(path, headers=auth("commune_officer", other_unit.commune_code))
    ).status_code == 404
    assert (await registry_client.get(path, headers=auth("partner", "portal"))).status_code == 404
    assert (await registry_client.get(path)).status_code == 401
    assert (await registry_client.get(path, headers={"Authorization": "Bearer nonsense"})).status_code == 401
    # Our own services (scoring reads the entity of a dossier) read every entity and change none.
    scoring = auth("service", "scoring")
    read = await registry_client.get(path, headers=scoring)
    assert read.status_code == 200
    assert read.json()["id"] == str(producer.entity_id)
    changed = await registry_client.patch(path, json={"members_count": 1}, headers=scoring)
    assert changed.status_code == 403
    assert (await registry_client.get(path, headers=producer.headers)).json()["members_count"] == 12


async def test_listing_shows_only_what_the_caller_may_see(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    mine = await builders.producer(registry_client, db)
    theirs = await builders.producer(registry_client, db)
    own = (await registry_client.get("/v1/entities", headers=mine.headers)).json()["items"]
    assert [e["id"] for e in own] == [mine.entity_id]
    officer = (
        await registry_client.get("/v1/entities", headers=auth("commune_officer", theirs.unit.commune_code))
    ).json()
    assert [e["id"] for e in officer["items"]] == [theirs.entity_id]
    everyone = (await registry_client.get("/v1/entities", headers=auth("admin"))).json()["items"]
    assert sorted(e["id"] for e in everyone) == sorted([mine.entity_id, theirs.entity_id])
    assert (await registry_client.get("/v1/entities", headers=auth("partner", "p"))).json()["items"] == []
    assert (await registry_client.get("/v1/entities")).status_code == 401
    listed = await registry_client.get(
        "/v1/entities", params={"commune_code": theirs.unit.commune_code}, headers=auth("service", "scoring")
    )
    assert [e["id"] for e in listed.json()["items"]] == [str(theirs.entity_id)]


async def test_listing_pages_and_searches_without_diacritics(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    unit = await builders.unit(db)
    headers = auth("commune_officer", unit.commune_code)
    names = [f"Công ty TNHH Đặc sản Hạ Long {i}" for i in range(5)]
    for name in names:
        await builders.entity(registry_client, unit, legal_name=name)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, "q": "dac san ha long", **({"cursor": cursor} if cursor else {})}
        page = (await registry_client.get("/v1/entities", params=params, headers=headers)).json()
        seen += [e["legal_name"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(names)
    bad = await registry_client.get("/v1/entities", params={"cursor": "garbage!"}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.cursor"


async def test_update_rules(
    registry_client: httpx.AsyncClient, producer: builders.Producer, db: asyncpg.Connection
) -> None:
    path = f"/v1/entities/{producer.entity_id}"
    changed = await registry_client.patch(
        path, json={"phone": "0912 345 678", "members_count": 15}, headers=producer.headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["members_count"] == 15
    assert (
        await registry_client.patch(path, json={"phone": "1"}, headers=producer.headers)
    ).status_code == 422
    assert (
        await registry_client.patch(
            path, json={"members_count": 1}, headers=auth("producer", str(uuid.uuid4()))
        )
    ).status_code == 404
    assert (await registry_client.patch(path, json={"members_count": 1})).status_code == 401
    # A producer cannot move its entity into a unit it does not belong to.
    elsewhere = await builders.unit(db)
    moved = await registry_client.patch(
        path, json={"commune_code": elsewhere.commune_code}, headers=producer.headers
    )
    assert moved.status_code == 403


async def test_update_to_a_taken_tax_code_is_409_and_changes_nothing(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    first = await builders.producer(registry_client, db)
    second = await builders.producer(registry_client, db)
    taken = first.entity["tax_code"]
    response = await registry_client.patch(
        f"/v1/entities/{second.entity_id}",
        json={"tax_code": taken, "members_count": 99},
        headers=second.headers,
    )
    assert response.status_code == 409
    after = (await registry_client.get(f"/v1/entities/{second.entity_id}", headers=second.headers)).json()
    assert after["members_count"] == 12
    assert after["tax_code"] == second.entity["tax_code"]


async def test_idempotency_key_makes_a_retry_safe(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    unit = await builders.unit(db)
    headers = auth("commune_officer", unit.commune_code) | {"Idempotency-Key": "dang-ky-1"}
    body = entity_body(unit)
    first = await registry_client.post("/v1/entities", json=body, headers=headers)
    retry = await registry_client.post("/v1/entities", json=body, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["location"] == first.headers["location"]
    assert retry.headers["idempotent-replayed"] == "true"
    listed = await registry_client.get("/v1/entities", headers=auth("admin"))
    assert [entity["id"] for entity in listed.json()["items"]] == [first.json()["id"]]
    # The same key for a different request is refused rather than silently replayed.
    other = await registry_client.post("/v1/entities", json=entity_body(unit), headers=headers)
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-key-reused"


async def test_a_failed_attempt_does_not_burn_its_idempotency_key(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    unit = await builders.unit(db)
    headers = auth("commune_officer", unit.commune_code) | {"Idempotency-Key": "dang-ky-1"}
    taken = await builders.entity(registry_client, unit, headers=auth("admin"))
    body = entity_body(unit, tax_code=taken["tax_code"])
    conflict = await registry_client.post("/v1/entities", json=body, headers=headers)
    assert conflict.status_code == 409
    # The 409 was rolled back with its key, so the corrected request may reuse the key.
    fixed = await registry_client.post("/v1/entities", json=entity_body(unit), headers=headers)
    assert fixed.status_code == 201


async def test_a_tax_code_taken_in_another_unit_reveals_nothing_of_that_entity(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    theirs, mine = await builders.unit(db), await builders.unit(db, commune_name="Xã Của Tôi")
    created = await builders.entity(registry_client, theirs, legal_name="Hợp tác xã Bí Mật Đông Triều")
    again = await registry_client.post(
        "/v1/entities",
        json=entity_body(mine, tax_code=created["tax_code"]),
        headers=auth("commune_officer", mine.commune_code),
    )
    assert again.status_code == 409
    text = again.text
    for secret in (created["id"], "Bí Mật", theirs.commune_code, created["representative_name"]):
        assert secret not in text, secret
