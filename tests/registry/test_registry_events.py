"""The registry's own events: every write of a product or an entity emits its snapshot, in the same transaction."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from tests import builders
from tests.builders import (
    ADMIN,
    ENTITY_COLUMNS,
    PRODUCT_COLUMNS,
    Producer,
    csv_file,
    entity_row,
    png,
    product_row,
)


async def events(db: asyncpg.Connection, subject: str) -> list[tuple[str, dict[str, Any]]]:
    """The record events (``registry.product.*``, ``registry.entity.*``) of ``subject`` in the registry's outbox,
    oldest first: (type, data). The catalogue's own events (``registry.catalogue.*``) are tested apart."""
    rows = await db.fetch(
        """SELECT type, data FROM registry.outbox_event
           WHERE subject = $1 AND type NOT LIKE 'registry.catalogue.%' ORDER BY seq""",
        subject,
    )
    return [(row["type"], _json(row["data"])) for row in rows]


def _json(value: Any) -> dict[str, Any]:
    return dict(orjson.loads(value)) if isinstance(value, str | bytes) else dict(value)


async def test_registering_a_product_and_an_entity_emits_their_snapshots(
    registry_client: httpx.AsyncClient, producer: Producer, db: asyncpg.Connection
) -> None:
    [(kind, entity)] = await events(db, f"entity/{producer.entity_id}")
    assert kind == "registry.entity.updated"
    assert (entity["id"], entity["legal_name"], entity["entity_type"]) == (
        producer.entity_id, producer.entity["legal_name"], "cooperative",
    )  # fmt: skip
    assert (entity["commune_code"], entity["commune_name"]) == (producer.unit.commune_code, "Xã Thử Nghiệm")
    assert (entity["province_code"], entity["province_name"]) == (producer.unit.province_code, "Tỉnh Thử")
    assert entity["representative_name"] == "Nguyễn Thị Hoa"

    product = await builders.product(registry_client, producer, gtin=builders.gtin())
    [(kind, data)] = await events(db, f"product/{product['id']}")
    assert kind == "registry.product.updated"
    expected = {
        "id": product["id"], "product_code": product["product_code"], "name": product["name"],
        "entity_id": producer.entity_id, "entity_legal_name": producer.entity["legal_name"],
        "product_set": product["product_set"], "gtin": product["gtin"], "status": "idea", "ocop_star": None,
        "certificate_number": None, "certificate_status": None, "images": [],
        "commune_code": producer.unit.commune_code, "commune_name": "Xã Thử Nghiệm",
        "province_code": producer.unit.province_code, "province_name": "Tỉnh Thử",
    }  # fmt: skip
    assert {name: data[name] for name in expected} == expected
    assert data["version"] > entity["version"]


async def test_each_change_of_a_product_emits_a_newer_snapshot(
    registry_client: httpx.AsyncClient, producer: Producer, db: asyncpg.Connection
) -> None:
    product = await builders.product(registry_client, producer, headers=ADMIN, status="implementing")
    path = f"/v1/products/{product['id']}"
    renamed = await registry_client.patch(path, json={"name": "Chả mực giã tay"}, headers=producer.headers)
    assert renamed.status_code == 200, renamed.text
    same = await registry_client.patch(path, json={"name": "Chả mực giã tay"}, headers=producer.headers)
    assert same.status_code == 200, same.text  # no change: no event
    moved = await registry_client.post(
        f"{path}/status", json={"status": "ready_for_evaluation"}, headers=producer.headers
    )
    assert moved.status_code == 200, moved.text
    image = await registry_client.post(
        f"{path}/images", files={"file": ("anh.png", png(), "image/png")}, headers=producer.headers
    )
    assert image.status_code == 201, image.text
    certified = await builders.certify(registry_client, product["id"], star=4)
    assert certified["status"] == "certified"

    emitted = await events(db, f"product/{product['id']}")
    assert [kind for kind, _ in emitted] == ["registry.product.updated"] * 5
    snapshots = [data for _, data in emitted]
    assert [data["name"] for data in snapshots] == [product["name"]] + ["Chả mực giã tay"] * 4
    assert [data["status"] for data in snapshots] == [
        "implementing", "implementing", "ready_for_evaluation", "ready_for_evaluation", "certified",
    ]  # fmt: skip
    assert snapshots[3]["images"] == [image.json()["images"][0]["url"]]
    last = snapshots[4]
    assert (last["ocop_star"], last["certificate_status"], last["certificate_level"]) == (
        4,
        "active",
        "province",
    )
    assert last["certificate_number"] == certified["certificate_number"]
    assert last["certificate_expires_on"] == certified["certificate_expires_on"]
    versions = [data["version"] for data in snapshots]
    assert versions == sorted(set(versions))


async def test_a_certificate_that_changes_nothing_emits_nothing(
    registry_client: httpx.AsyncClient, producer: Producer, db: asyncpg.Connection
) -> None:
    product = await builders.product(registry_client, producer, headers=ADMIN, status="ready_for_evaluation")
    event = builders.certificate(product["id"])
    await builders.deliver(registry_client, event)
    await builders.deliver(
        registry_client, {**event, "event_id": builders.later(event, "active")["event_id"]}
    )
    assert len(await events(db, f"product/{product['id']}")) == 2  # registered, certified: not twice


async def test_a_refused_write_emits_nothing(
    registry_client: httpx.AsyncClient, producer: Producer, db: asyncpg.Connection
) -> None:
    product = await builders.product(registry_client, producer)
    before = await db.fetchval("SELECT count(*) FROM registry.outbox_event")
    taken = await registry_client.post(
        "/v1/products", json=builders.product_body(producer.entity_id, name=product["name"]),
        headers=producer.headers,
    )  # fmt: skip
    assert taken.status_code == 409, taken.text
    illegal = await registry_client.post(
        f"/v1/products/{product['id']}/status", json={"status": "certified"}, headers=ADMIN
    )
    assert illegal.status_code in (409, 422), illegal.text
    foreign = await registry_client.patch(
        f"/v1/entities/{producer.entity_id}", json={"legal_name": "HTX Khác"}, headers=producer.headers
    )
    assert foreign.status_code == 409, foreign.text  # needs approval
    assert await db.fetchval("SELECT count(*) FROM registry.outbox_event") == before


async def test_approved_change_requests_emit_the_changed_records(
    registry_client: httpx.AsyncClient, producer: Producer, db: asyncpg.Connection
) -> None:
    product = await builders.product(registry_client, producer, headers=ADMIN, status="ready_for_evaluation")
    await builders.certify(registry_client, product["id"])
    for path, change in (
        (f"/v1/products/{product['id']}", {"name": "Chả mực giã tay Hạ Long", "reason": "Nhãn hiệu mới"}),
        (f"/v1/entities/{producer.entity_id}", {"legal_name": "Hợp tác xã Nông sản Xanh"}),
    ):
        asked = await registry_client.post(f"{path}/change-requests", json=change, headers=producer.headers)
        assert asked.status_code == 201, asked.text
        approved = await registry_client.post(
            f"/v1/change-requests/{asked.json()['id']}/approve", headers=producer.commune_officer
        )
        assert approved.status_code == 200, approved.text
    product_events = await events(db, f"product/{product['id']}")
    assert product_events[-1][1]["name"] == "Chả mực giã tay Hạ Long"
    assert product_events[-1][1]["status"] == "certified"
    entity_events = await events(db, f"entity/{producer.entity_id}")
    assert [data["legal_name"] for _, data in entity_events] == [
        producer.entity["legal_name"], "Hợp tác xã Nông sản Xanh",
    ]  # fmt: skip
    # Changing a field that is not on the record of the event (the phone) still is a change of the entity.
    phone = await registry_client.patch(
        f"/v1/entities/{producer.entity_id}", json={"phone": "0203 3876 000"}, headers=producer.headers
    )
    assert phone.status_code == 200, phone.text
    assert len(await events(db, f"entity/{producer.entity_id}")) == 3
    unchanged = await registry_client.patch(
        f"/v1/entities/{producer.entity_id}", json={"phone": "0203 3876 000"}, headers=producer.headers
    )
    assert unchanged.status_code == 200, unchanged.text
    assert len(await events(db, f"entity/{producer.entity_id}")) == 3


@pytest.mark.commits  # import jobs run in the background and commit
async def test_an_import_emits_one_event_per_row_in_one_statement(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    unit = await builders.unit(db)
    entities = [entity_row(unit) for _ in range(4)]
    job = await builders.import_job(registry_client, "entities", csv_file(ENTITY_COLUMNS, entities))
    assert job["status"] == "succeeded", job["errors"]
    rows = [product_row(entities[i % 4]["tax_code"], external_id=f"SP-{i}", gtin="") for i in range(12)]
    job = await builders.import_job(registry_client, "products", csv_file(PRODUCT_COLUMNS, rows))
    assert job["status"] == "succeeded", job["errors"]
    # cmin is the command within its transaction: one value for all the rows of one statement.
    for kind, count in (("registry.entity.updated", 4), ("registry.product.updated", 12)):
        written = await db.fetchrow(
            "SELECT count(*) AS events, count(DISTINCT cmin::text) AS statements FROM registry.outbox_event"
            " WHERE type = $1",
            kind,
        )
        assert (written["events"], written["statements"]) == (count, 1)
    names = await db.fetch(
        "SELECT data->>'name' AS name, data->>'entity_tax_code' AS tax_code FROM registry.outbox_event"
        " WHERE type = 'registry.product.updated'"
    )
    assert sorted((row["name"], row["tax_code"]) for row in names) == sorted(
        (row["name"], row["entity_tax_code"]) for row in rows
    )
    # Re-importing the same file changes nothing and emits nothing; a changed row emits its product only.
    rows[0]["name"] = "Chả mực giã tay (đổi tên)"
    job = await builders.import_job(registry_client, "products", csv_file(PRODUCT_COLUMNS, rows))
    assert (job["status"], job["updated"], job["unchanged"]) == ("succeeded", 1, 11), job
    changed = await db.fetch(
        "SELECT data->>'name' AS name FROM registry.outbox_event WHERE type = 'registry.product.updated'"
        " ORDER BY seq DESC LIMIT 2"
    )
    assert changed[0]["name"] == "Chả mực giã tay (đổi tên)"
    assert await db.fetchval("SELECT count(*) FROM registry.outbox_event") == 4 + 12 + 1
