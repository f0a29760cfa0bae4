"""Products: registration with codes and GTINs, changes and history, lifecycle, snapshots, images."""

from __future__ import annotations

import asyncio
import re
import uuid

import asyncpg
import httpx
import pytest
from sqlalchemy import event

from services.registry.products import service as product_service
from services.registry.products.identifiers import gtin_is_valid
from shared import clock
from shared.db import Database
from shared.security.principal import Principal, Role
from tests import builders
from tests.builders import Producer, gtin, png
from tests.conftest import auth
from tests.support.database import TestDatabase


def test_gtin_check_digit_matches_gs1_examples() -> None:
    assert gtin_is_valid("8934588012228")  # a real GS1 Vietnam GTIN-13
    assert gtin_is_valid("4006381333931")
    assert gtin_is_valid("96385074")  # GTIN-8
    assert not gtin_is_valid("8934588012229")


async def test_producer_registers_a_product_with_a_generated_code(
    registry_client: httpx.AsyncClient, producer: Producer
) -> None:
    product = await builders.product(
        registry_client, producer, gtin=gtin("893458801222"), name_en="Ha Long squid cake"
    )
    year = clock.today().year
    assert re.fullmatch(
        rf"{producer.unit.province_code}-{producer.unit.commune_code}-\d{{4}}-{year}", product["product_code"]
    )
    assert product["status"] == "idea"
    assert (product["classification"], product["product_group"], product["sector"]) == ("148", "food", "food")
    assert product["warnings"] == []
    assert product["ocop_star"] is None
    second = await builders.product(registry_client, producer)
    first_seq, second_seq = (int(str(p["product_code"]).split("-")[2]) for p in (product, second))
    assert second_seq == first_seq + 1


@pytest.mark.commits  # concurrent requests need transactions of their own
async def test_product_codes_are_unique_under_concurrency(
    registry_client: httpx.AsyncClient, producer: Producer
) -> None:
    products = await asyncio.gather(*(builders.product(registry_client, producer) for _ in range(8)))
    numbers = sorted(int(str(p["product_code"]).split("-")[2]) for p in products)
    assert numbers == list(range(1, 9))


async def test_gtin_rules(registry_client: httpx.AsyncClient, producer: Producer) -> None:
    bad = await registry_client.post(
        "/v1/products",
        json=builders.product_body(producer.entity_id, gtin="8934588012229"),
        headers=producer.headers,
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "body.gtin"
    foreign = await builders.product(registry_client, producer, gtin=gtin("400638133393"))
    assert foreign["warnings"][0]["field"] == "body.gtin"
    again = await registry_client.post(
        "/v1/products",
        json=builders.product_body(producer.entity_id, gtin=foreign["gtin"]),
        headers=producer.headers,
    )
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/gtin-taken"


async def test_same_name_twice_for_one_entity_is_409(
    registry_client: httpx.AsyncClient, producer: Producer
) -> None:
    product = await builders.product(registry_client, producer)
    again = await registry_client.post(
        "/v1/products",
        json=builders.product_body(producer.entity_id, name=product["name"]),
        headers=producer.headers,
    )
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/product-name-taken"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("product_set", 0),
        ("product_set", 27),
        ("name", ""),
        ("classification", "2019"),
        ("status", "certified"),
        ("ocop_star", 5),
    ],
)
async def test_invalid_fields(
    registry_client: httpx.AsyncClient, producer: Producer, field: str, value: object
) -> None:
    response = await registry_client.post(
        "/v1/products",
        json=builders.product_body(producer.entity_id, **{field: value}),
        headers=producer.headers,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == f"body.{field}"


async def test_classification_versions(registry_client: httpx.AsyncClient, producer: Producer) -> None:
    tea = await builders.product(registry_client, producer, product_set=11, classification="1048")
    assert (tea["product_group"], tea["sector"]) == ("beverages", "beverages")
    flower = await builders.product(registry_client, producer, product_set=23)
    assert (flower["product_group"], flower["sector"]) == ("ornamentals", "ornamentals")
    # 26/2026 has groups of its own under six sectors.
    garment = await builders.product(registry_client, producer, product_set=22, classification="26/2026")
    assert (garment["product_group"], garment["sector"]) == ("fabric_garments", "handicrafts")
    changed = await registry_client.patch(
        f"/v1/products/{tea['id']}", json={"classification": "26/2026"}, headers=producer.headers
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["product_group"], changed.json()["sector"]) == ("tea", "food")


async def test_access_rules(
    registry_client: httpx.AsyncClient, producer: Producer, db: asyncpg.Connection
) -> None:
    other = await builders.producer(registry_client, db)
    # Registering for another producer's entity: the entity does not exist for this caller.
    foreign = await registry_client.post(
        "/v1/products", json=builders.product_body(other.entity_id), headers=producer.headers
    )
    assert foreign.status_code == 404
    assert foreign.json()["type"] == "/problems/entity-not-found"
    product = await builders.product(registry_client, producer)
    path = f"/v1/products/{product['id']}"
    assert (await registry_client.get(path, headers=producer.headers)).status_code == 200
    assert (await registry_client.get(path, headers=other.headers)).status_code == 404
    assert (
        await registry_client.get(path, headers=auth("commune_officer", producer.unit.commune_code))
    ).status_code == 200
    assert (
        await registry_client.get(path, headers=auth("commune_officer", other.unit.commune_code))
    ).status_code == 404
    assert (await registry_client.get(path)).status_code == 401
    assert (await registry_client.patch(path, json={"story": "x"}, headers=other.headers)).status_code == 404
    assert (
        await registry_client.post("/v1/products", json=builders.product_body(producer.entity_id))
    ).status_code == 401
    assert (await registry_client.get("/v1/products", headers=other.headers)).json()["items"] == []
    listed = (await registry_client.get("/v1/products", headers=producer.headers)).json()["items"]
    assert [p["id"] for p in listed] == [product["id"]]
    # Our own services read every product (scoring pins it at submission) and change none.
    scoring = auth("service", "scoring")
    assert (await registry_client.get(path, headers=scoring)).json()["id"] == product["id"]
    assert (await registry_client.patch(path, json={"story": "x"}, headers=scoring)).status_code == 403
    status = await registry_client.post(f"{path}/status", json={"status": "business_plan"}, headers=scoring)
    assert status.status_code == 403
    mine = await registry_client.get(
        "/v1/products", params={"entity_id": str(producer.entity_id)}, headers=scoring
    )
    assert [p["id"] for p in mine.json()["items"]] == [product["id"]]


async def test_snapshot_holds_product_entity_commune_and_province(
    registry_client: httpx.AsyncClient, producer: Producer
) -> None:
    product = await builders.product(registry_client, producer, product_set=11, classification="1048")
    path = f"/v1/products/{product['id']}/snapshot"
    response = await registry_client.get(path, headers=auth("service", "scoring"))
    assert response.status_code == 200, response.text
    snapshot = response.json()
    assert snapshot["as_of"] == clock.today().isoformat()
    assert snapshot["product"] == (await registry_client.get(
        f"/v1/products/{product['id']}", headers=producer.headers
    )).json()  # fmt: skip
    assert (snapshot["product"]["classification"], snapshot["product"]["product_set"]) == ("1048", 11)
    assert (snapshot["product"]["product_group"], snapshot["product"]["sector"]) == ("beverages", "beverages")
    entity = snapshot["entity"]
    assert entity["id"] == str(producer.entity_id)
    assert (entity["entity_type"], entity["representative_name"]) == ("cooperative", "Nguyễn Thị Hoa")
    assert (entity["address"], entity["representative_gender"]) == ("Thôn Đồng Rui, xã Tiên Yên", "female")
    assert entity["legal_name"].startswith("Hợp tác xã Nông sản Sạch")
    assert len(entity["tax_code"]) == 10
    assert snapshot["commune"] == {
        "code": producer.unit.commune_code, "name": "Xã Thử Nghiệm", "unit_type": "xã",
        "valid_from": None, "valid_to": None,
    }  # fmt: skip
    assert snapshot["province"]["code"] == producer.unit.province_code
    assert snapshot["province"]["name"] == "Tỉnh Thử"


async def test_snapshot_access(
    registry_client: httpx.AsyncClient, producer: Producer, db: asyncpg.Connection
) -> None:
    other = await builders.producer(registry_client, db)
    product = await builders.product(registry_client, producer)
    path = f"/v1/products/{product['id']}/snapshot"
    allowed = (
        auth("service", "scoring"), auth("admin"), producer.headers,
        auth("commune_officer", producer.unit.commune_code), auth("province_officer", producer.unit.province_code),
    )  # fmt: skip
    for headers in allowed:
        assert (await registry_client.get(path, headers=headers)).status_code == 200, headers
    hidden = (
        other.headers, auth("commune_officer", other.unit.commune_code), auth("partner", "portal"),
        auth("national", "moa"), auth("council_member", "m1"), auth("producer", "not-a-uuid"),
    )  # fmt: skip
    for headers in hidden:
        denied = await registry_client.get(path, headers=headers)
        assert denied.status_code == 404, headers
        assert denied.json()["type"] == "/problems/product-not-found"
    assert (await registry_client.get(path)).status_code == 401
    missing = await registry_client.get(f"/v1/products/{uuid.uuid4()}/snapshot", headers=auth("service", "x"))
    assert missing.status_code == 404


@pytest.mark.commits  # the statements are counted on a pool of the test's own
async def test_snapshot_is_one_statement(
    database: TestDatabase, producer: Producer, registry_client: httpx.AsyncClient
) -> None:
    product = await builders.product(registry_client, producer)
    registry = Database.connect(database.urls["registry"], application_name="test-snapshot", pool_size=1)
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(registry.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with registry.sessionmaker() as session, session.begin():
            snapshot = await product_service.snapshot(
                session,
                principal=Principal(sub="scoring", role=Role.service),
                product_id=uuid.UUID(product["id"]),
            )
    finally:
        await registry.dispose()
    assert [s.split()[0] for s in statements] == ["SELECT"]
    assert (snapshot.product.name, str(snapshot.entity.id)) == (product["name"], producer.entity_id)
    assert snapshot.commune is not None
    assert snapshot.commune.name == "Xã Thử Nghiệm"


async def test_update_records_history_and_refuses_certificate_fields(
    registry_client: httpx.AsyncClient, producer: Producer
) -> None:
    product = await builders.product(registry_client, producer)
    path = f"/v1/products/{product['id']}"
    changed = await registry_client.patch(
        path, json={"story": "Ba thế hệ làm chả mực", "product_set": 7}, headers=producer.headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["story"] == "Ba thế hệ làm chả mực"
    assert (
        await registry_client.patch(path, json={"ocop_star": 5}, headers=producer.headers)
    ).status_code == 422
    assert (
        await registry_client.patch(path, json={"certificate_number": "X"}, headers=producer.headers)
    ).status_code == 422
    history = (await registry_client.get(f"{path}/history", headers=producer.headers)).json()
    assert [h["action"] for h in history] == ["registered", "updated"]
    assert history[1]["changes"]["story"] == [None, "Ba thế hệ làm chả mực"]
    assert history[1]["changes"]["product_set"] == [8, 7]
    assert history[1]["actor_role"] == "producer"


async def test_lifecycle_transitions(registry_client: httpx.AsyncClient, producer: Producer) -> None:
    product = await builders.product(registry_client, producer)
    path = f"/v1/products/{product['id']}/status"
    officer = auth("commune_officer", producer.unit.commune_code)
    illegal = await registry_client.post(path, json={"status": "ready_for_evaluation"}, headers=officer)
    assert illegal.status_code == 409
    assert illegal.json()["current_state"] == "idea"
    assert "idea" in illegal.json()["detail"]
    # Approving the idea is an officer's decision, not the producer's.
    assert (
        await registry_client.post(path, json={"status": "business_plan"}, headers=producer.headers)
    ).status_code == 403
    assert (
        await registry_client.post(path, json={"status": "business_plan"}, headers=officer)
    ).status_code == 200
    assert (
        await registry_client.post(path, json={"status": "implementing"}, headers=officer)
    ).status_code == 200
    ready = await registry_client.post(
        path, json={"status": "ready_for_evaluation"}, headers=producer.headers
    )
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready_for_evaluation"
    assert (
        await registry_client.post(path, json={"status": "certified"}, headers=auth("admin"))
    ).status_code == 422


async def test_images_are_stored_by_hash_with_type_and_size_checks(
    registry_client: httpx.AsyncClient, producer: Producer
) -> None:
    product = await builders.product(registry_client, producer)
    path = f"/v1/products/{product['id']}/images"
    uploaded = await registry_client.post(
        path, files={"file": ("cha-muc.png", png(), "image/png")}, headers=producer.headers
    )
    assert uploaded.status_code == 201, uploaded.text
    image = uploaded.json()["images"][0]
    assert image["content_type"] == "image/png"
    assert image["size"] == len(png())
    again = await registry_client.post(
        path, files={"file": ("copy.png", png(), "image/png")}, headers=producer.headers
    )
    assert again.status_code == 201, again.text
    assert again.json()["images"] == uploaded.json()["images"]
    fetched = await registry_client.get(image["url"], headers=producer.headers)
    assert fetched.status_code == 200
    assert fetched.content == png()
    assert fetched.headers["content-type"] == "image/png"
    fake = await registry_client.post(
        path, files={"file": ("x.png", b"GIF89a....", "image/png")}, headers=producer.headers
    )
    assert fake.status_code == 415
    huge = await registry_client.post(
        path,
        files={"file": ("big.png", png() + b"\x00" * (5 * 1024 * 1024), "image/png")},
        headers=producer.headers,
    )
    assert huge.status_code == 413
    assert (
        len(
            (await registry_client.get(f"/v1/products/{product['id']}", headers=producer.headers)).json()[
                "images"
            ]
        )
        == 1
    )
    # Not in the catalogue yet: strangers cannot fetch its images.
    assert (await registry_client.get(image["url"])).status_code == 404


async def test_booleans_are_not_numbers(registry_client: httpx.AsyncClient, producer: Producer) -> None:
    response = await registry_client.post(
        "/v1/products",
        json=builders.product_body(producer.entity_id, product_set=True),
        headers=producer.headers,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.product_set"


async def test_broken_multipart_is_a_422_on_the_body(
    registry_client: httpx.AsyncClient, producer: Producer
) -> None:
    product = await builders.product(registry_client, producer)
    response = await registry_client.post(
        f"/v1/products/{product['id']}/images",
        content=b"--xyz\r\nFalse--xyz--\r\n",
        headers={**producer.headers, "content-type": "multipart/form-data; boundary=xyz"},
    )
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["body"]
