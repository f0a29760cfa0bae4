"""What a producer may not change in place becomes a change request that an officer of its unit decides."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from tests import builders
from tests.builders import Producer
from tests.conftest import auth


async def _certified(client: httpx.AsyncClient, producer: Producer) -> dict[str, Any]:
    """A product of the producer's, as registered, which scoring then certified."""
    product = await builders.product(client, producer)
    certified = await builders.certify(client, product["id"])
    assert certified["status"] == "certified"
    return product


@pytest.mark.parametrize("status", ["business_plan", "implementing", "ready_for_evaluation"])
async def test_a_producer_registers_products_only_as_ideas(
    registry_client: httpx.AsyncClient, producer: Producer, status: str
) -> None:
    body = builders.product_body(producer.entity_id, name="Rượu ba kích", product_set=9, status=status)
    refused = await registry_client.post("/v1/products", json=body, headers=producer.headers)
    assert refused.status_code == 403, refused.text
    assert refused.json()["field"] == "body.status"
    # An officer registering a product already under way may.
    allowed = await registry_client.post("/v1/products", json=body, headers=producer.commune_officer)
    assert allowed.status_code == 201, allowed.text
    assert allowed.json()["status"] == status


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "Chả mực giã tay"), ("name_en", "Squid cake"), ("product_set", 9), ("gtin", "8934567890128")],
)
async def test_a_certified_products_identity_does_not_change_in_place(
    registry_client: httpx.AsyncClient, producer: Producer, field: str, value: object
) -> None:
    product = await _certified(registry_client, producer)
    refused = await registry_client.patch(
        f"/v1/products/{product['id']}", json={field: value}, headers=producer.headers
    )
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["type"].endswith("/change-needs-approval")
    assert problem["field"] == f"body.{field}"
    assert problem["change_requests"] == f"/v1/products/{product['id']}/change-requests"
    unchanged = await registry_client.get(f"/v1/products/{product['id']}", headers=producer.headers)
    assert unchanged.json()[field] == product[field]
    # What is not identity still changes in place.
    story = await registry_client.patch(
        f"/v1/products/{product['id']}", json={"story": "Làm từ mực tươi"}, headers=producer.headers
    )
    assert story.status_code == 200, story.text


async def test_an_uncertified_product_is_renamed_in_place(
    registry_client: httpx.AsyncClient, producer: Producer
) -> None:
    product = await builders.product(registry_client, producer)
    renamed = await registry_client.patch(
        f"/v1/products/{product['id']}", json={"name": "Chả mực giã tay"}, headers=producer.headers
    )
    assert renamed.status_code == 200, renamed.text


@pytest.mark.commits  # the catalogue is read outside any transaction
async def test_an_approved_request_changes_the_product_and_its_history(
    registry_client: httpx.AsyncClient, producer: Producer
) -> None:
    product = await _certified(registry_client, producer)
    asked = await registry_client.post(
        f"/v1/products/{product['id']}/change-requests",
        json={"name": "Chả mực giã tay Hạ Long", "reason": "Tên đăng ký nhãn hiệu mới"},
        headers=producer.headers,
    )
    assert asked.status_code == 201, asked.text
    request = asked.json()
    assert request["status"] == "pending"
    assert request["changes"] == {"name": "Chả mực giã tay Hạ Long"}
    assert request["previous"] == {"name": product["name"]}
    # Pending: the record and the public catalogue still show the certified name.
    still = await registry_client.get(f"/v1/catalogue/{product['id']}")
    assert still.status_code == 200
    assert still.json()["name"] == product["name"]
    # The producer cannot decide its own request.
    own = await registry_client.post(f"/v1/change-requests/{request['id']}/approve", headers=producer.headers)
    assert own.status_code == 403
    approved = await registry_client.post(
        f"/v1/change-requests/{request['id']}/approve", headers=producer.commune_officer
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert approved.json()["decided_by"] == "can-bo-xa"
    renamed = await registry_client.get(f"/v1/products/{product['id']}", headers=producer.headers)
    assert renamed.json()["name"] == "Chả mực giã tay Hạ Long"
    history = await registry_client.get(f"/v1/products/{product['id']}/history", headers=producer.headers)
    last = history.json()[-1]
    assert last["action"] == "updated"
    assert last["actor"] == "can-bo-xa"
    assert last["changes"]["name"] == [product["name"], "Chả mực giã tay Hạ Long"]
    again = await registry_client.post(
        f"/v1/change-requests/{request['id']}/approve", headers=producer.commune_officer
    )
    assert again.status_code == 409
    assert again.json()["current_state"] == "approved"


async def test_a_rejected_request_changes_nothing(
    registry_client: httpx.AsyncClient, producer: Producer
) -> None:
    product = await _certified(registry_client, producer)
    asked = await registry_client.post(
        f"/v1/products/{product['id']}/change-requests", json={"product_set": 9}, headers=producer.headers
    )
    assert asked.status_code == 201, asked.text
    no_reason = await registry_client.post(
        f"/v1/change-requests/{asked.json()['id']}/reject", json={}, headers=producer.commune_officer
    )
    assert no_reason.status_code == 422
    rejected = await registry_client.post(
        f"/v1/change-requests/{asked.json()['id']}/reject",
        json={"reason": "Bộ sản phẩm mới cần đánh giá lại"},
        headers=producer.commune_officer,
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["decision_reason"] == "Bộ sản phẩm mới cần đánh giá lại"
    same = await registry_client.get(f"/v1/products/{product['id']}", headers=producer.headers)
    assert same.json()["product_set"] == product["product_set"]


async def test_an_entitys_legal_name_and_tax_code_need_approval(
    registry_client: httpx.AsyncClient, producer: Producer
) -> None:
    refused = await registry_client.patch(
        f"/v1/entities/{producer.entity_id}", json={"legal_name": "HTX Mới"}, headers=producer.headers
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["field"] == "body.legal_name"
    phone = await registry_client.patch(
        f"/v1/entities/{producer.entity_id}", json={"phone": "0203 3876 000"}, headers=producer.headers
    )
    assert phone.status_code == 200, phone.text
    asked = await registry_client.post(
        f"/v1/entities/{producer.entity_id}/change-requests",
        json={"legal_name": "Hợp tác xã Nông sản Xanh"},
        headers=producer.headers,
    )
    assert asked.status_code == 201, asked.text
    approved = await registry_client.post(
        f"/v1/change-requests/{asked.json()['id']}/approve", headers=producer.commune_officer
    )
    assert approved.status_code == 200, approved.text
    entity = await registry_client.get(f"/v1/entities/{producer.entity_id}", headers=producer.headers)
    assert entity.json()["legal_name"] == "Hợp tác xã Nông sản Xanh"
    # Officers change it in place.
    officer = await registry_client.patch(
        f"/v1/entities/{producer.entity_id}",
        json={"legal_name": "HTX Nông sản Xanh"},
        headers=producer.commune_officer,
    )
    assert officer.status_code == 200, officer.text


async def test_an_empty_request_is_refused(registry_client: httpx.AsyncClient, producer: Producer) -> None:
    product = await builders.product(registry_client, producer)
    empty = await registry_client.post(
        f"/v1/products/{product['id']}/change-requests", json={"reason": "x"}, headers=producer.headers
    )
    assert empty.status_code == 422


async def test_who_sees_and_decides_requests(
    registry_client: httpx.AsyncClient, producer: Producer, db: asyncpg.Connection
) -> None:
    product = await _certified(registry_client, producer)
    asked = await registry_client.post(
        f"/v1/products/{product['id']}/change-requests",
        json={"name_en": "Squid cake"},
        headers=producer.headers,
    )
    assert asked.status_code == 201, asked.text
    request_id = asked.json()["id"]
    other = await builders.producer(registry_client, db)
    # Another producer or another unit's officer does not learn the request exists.
    for stranger in (other.headers, auth("commune_officer", other.unit.commune_code), auth("partner", "x")):
        assert (
            await registry_client.get(f"/v1/change-requests/{request_id}", headers=stranger)
        ).status_code == 404
        decided = await registry_client.post(f"/v1/change-requests/{request_id}/approve", headers=stranger)
        assert decided.status_code == 404
        asked_for = await registry_client.post(
            f"/v1/products/{product['id']}/change-requests", json={"name_en": "X"}, headers=stranger
        )
        assert asked_for.status_code == 404
    assert (await registry_client.get(f"/v1/change-requests/{request_id}")).status_code == 401
    assert (await registry_client.post(f"/v1/change-requests/{request_id}/approve")).status_code == 401
    mine = await registry_client.get("/v1/change-requests", headers=producer.headers)
    assert [item["id"] for item in mine.json()["items"]] == [request_id]
    theirs = await registry_client.get("/v1/change-requests", headers=other.headers)
    assert theirs.json()["items"] == []
    province = auth("province_officer", producer.unit.province_code)
    decided = await registry_client.post(f"/v1/change-requests/{request_id}/approve", headers=province)
    assert decided.status_code == 200, decided.text
