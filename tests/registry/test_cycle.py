"""The OCOP cycle's idea and business-plan reviews (in-process registry, real PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from shared.db import asyncpg_dsn
from tests.conftest import auth
from tests.registry.factories import Unit, create_unit, unique_tax_code
from tests.support.database import TestDatabase


@dataclass(frozen=True)
class World:
    """A fresh commune with one entity, and headers for everyone who might touch its cycle."""

    unit: Unit
    entity_id: str
    producer: dict[str, str]
    commune_officer: dict[str, str]
    province_officer: dict[str, str]


# Callers who must not learn that another unit's or entity's records exist.
STRANGERS = {
    "other producer": auth("producer", str(uuid.uuid4())),
    "officer of another commune": auth("commune_officer", "00001"),
    "officer of another province": auth("province_officer", "01"),
    "partner": auth("partner", "shopee"),
}


async def make_world(client: httpx.AsyncClient, database: TestDatabase) -> World:
    """Register an entity in a new commune, as that commune's officer."""
    unit = await create_unit(database)
    officer = auth("commune_officer", unit.commune_code, sub="can-bo-xa")
    response = await client.post(
        "/v1/entities",
        json={
            "entity_type": "cooperative", "legal_name": f"HTX Nông sản {uuid.uuid4().hex[:6]}",
            "tax_code": unique_tax_code(), "representative_name": "Nguyễn Thị Hoa",
            "commune_code": unit.commune_code,
        },
        headers=officer,
    )  # fmt: skip
    assert response.status_code == 201, response.text
    entity_id = response.json()["id"]
    return World(
        unit=unit,
        entity_id=entity_id,
        producer=auth("producer", entity_id, sub="chu-the"),
        commune_officer=officer,
        province_officer=auth("province_officer", unit.province_code, sub="can-bo-tinh"),
    )


def idea_body(world: World, **overrides: Any) -> dict[str, Any]:
    """A valid idea registration for the world's entity, with a product name unique to the run."""
    return {
        "entity_id": world.entity_id,
        "product_name": f"Rượu ba kích {uuid.uuid4().hex[:8]}",
        "product_set": 9,
        "description": "Rượu ngâm ba kích tím Ba Chẽ, 29,5 độ",
        "raw_materials": "Ba kích tím trồng dưới tán rừng, xã Thanh Sơn",
        **overrides,
    }


async def new_idea(client: httpx.AsyncClient, world: World, **overrides: Any) -> dict[str, Any]:
    """A draft idea registered by the world's producer."""
    response = await client.post("/v1/ideas", json=idea_body(world, **overrides), headers=world.producer)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def submitted_idea(client: httpx.AsyncClient, world: World) -> dict[str, Any]:
    """An idea handed in for review."""
    idea = await new_idea(client, world)
    response = await client.post(f"/v1/ideas/{idea['id']}/submit", headers=world.producer)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def approved_idea(client: httpx.AsyncClient, world: World) -> dict[str, Any]:
    """An idea approved by the commune officer."""
    idea = await submitted_idea(client, world)
    response = await client.post(f"/v1/ideas/{idea['id']}/approve", headers=world.commune_officer)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def plan_body(idea_id: str) -> dict[str, Any]:
    """A valid business plan for an idea."""
    return {
        "idea_id": idea_id,
        "summary": "Mở rộng vùng trồng 5 ha, đầu tư dây chuyền chiết rót và đóng chai",
        "market": "Cửa hàng OCOP Hạ Long, sàn Voso và Postmart",
        "budget_vnd": 350_000_000,
    }


async def new_plan(client: httpx.AsyncClient, world: World) -> dict[str, Any]:
    """A draft business plan of a freshly approved idea."""
    idea = await approved_idea(client, world)
    response = await client.post("/v1/business-plans", json=plan_body(idea["id"]), headers=world.producer)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def submitted_plan(client: httpx.AsyncClient, world: World) -> dict[str, Any]:
    """A business plan handed in for review."""
    plan = await new_plan(client, world)
    response = await client.post(f"/v1/business-plans/{plan['id']}/submit", headers=world.producer)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def product_status(client: httpx.AsyncClient, world: World, product_id: str) -> str:
    """The product's lifecycle status, as its producer reads it."""
    response = await client.get(f"/v1/products/{product_id}", headers=world.producer)
    assert response.status_code == 200, response.text
    status: str = response.json()["status"]
    return status


def assert_conflict(response: httpx.Response, current_state: str) -> dict[str, Any]:
    """A 409 problem naming the record's current state."""
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["current_state"] == current_state
    assert current_state in body["detail"]
    return body


# The happy path


async def test_full_cycle_takes_the_product_from_idea_to_implementing(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    world = await make_world(registry_client, database)
    created = await registry_client.post(
        "/v1/ideas", json=idea_body(world, product_name="Rượu ba kích Ba Chẽ", classification="26/2026"),
        headers=world.producer,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    idea = created.json()
    assert created.headers["location"] == f"/v1/ideas/{idea['id']}"
    assert idea["status"] == "draft"
    assert idea["title"] == "Rượu ba kích Ba Chẽ"
    assert (idea["commune_code"], idea["province_code"]) == (
        world.unit.commune_code,
        world.unit.province_code,
    )
    product = (await registry_client.get(f"/v1/products/{idea['product_id']}", headers=world.producer)).json()
    assert (product["name"], product["status"], product["classification"]) == (
        "Rượu ba kích Ba Chẽ", "idea", "26/2026",
    )  # fmt: skip

    submitted = await registry_client.post(f"/v1/ideas/{idea['id']}/submit", headers=world.producer)
    assert submitted.status_code == 200
    assert submitted.json()["status"] == "submitted"
    assert submitted.json()["submitted_at"] is not None
    assert submitted.json()["decided_at"] is None

    approved = await registry_client.post(f"/v1/ideas/{idea['id']}/approve", headers=world.commune_officer)
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    assert approved.json()["decided_by"] == "can-bo-xa"
    assert approved.json()["decided_at"] is not None
    assert await product_status(registry_client, world, idea["product_id"]) == "business_plan"

    plan_created = await registry_client.post(
        "/v1/business-plans", json=plan_body(idea["id"]), headers=world.producer
    )
    assert plan_created.status_code == 201, plan_created.text
    plan = plan_created.json()
    assert plan_created.headers["location"] == f"/v1/business-plans/{plan['id']}"
    assert (plan["status"], plan["idea_id"], plan["product_id"]) == ("draft", idea["id"], idea["product_id"])
    assert plan["budget_vnd"] == 350_000_000

    submit_plan = await registry_client.post(
        f"/v1/business-plans/{plan['id']}/submit", headers=world.producer
    )
    assert submit_plan.json()["status"] == "submitted"
    approve_plan = await registry_client.post(
        f"/v1/business-plans/{plan['id']}/approve", headers=world.province_officer
    )
    assert approve_plan.status_code == 200
    assert (approve_plan.json()["status"], approve_plan.json()["decided_by"]) == ("approved", "can-bo-tinh")
    assert await product_status(registry_client, world, idea["product_id"]) == "implementing"

    history = (
        await registry_client.get(f"/v1/products/{idea['product_id']}/history", headers=world.producer)
    ).json()
    assert [entry["action"] for entry in history] == [
        "registered", "idea_created", "idea_submitted", "idea_approved", "status_changed",
        "business_plan_created", "business_plan_submitted", "business_plan_approved", "status_changed",
    ]  # fmt: skip
    moves = [entry["changes"]["status"] for entry in history if entry["action"] == "status_changed"]
    assert moves == [["idea", "business_plan"], ["business_plan", "implementing"]]
    approval = history[3]
    assert (approval["actor"], approval["actor_role"]) == ("can-bo-xa", "commune_officer")
    assert approval["changes"]["idea_id"] == idea["id"]


async def test_returned_idea_is_revised_and_resubmitted(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    world = await make_world(registry_client, database)
    idea = await submitted_idea(registry_client, world)
    reason = "Thiếu thông tin vùng nguyên liệu ba kích"
    returned = await registry_client.post(
        f"/v1/ideas/{idea['id']}/return", json={"reason": reason}, headers=world.province_officer
    )
    assert returned.status_code == 200
    assert (returned.json()["status"], returned.json()["return_reason"]) == ("returned", reason)
    assert returned.json()["decided_by"] == "can-bo-tinh"
    assert await product_status(registry_client, world, idea["product_id"]) == "idea"

    revised = await registry_client.patch(
        f"/v1/ideas/{idea['id']}", json={"raw_materials": "Ba kích tím, 12 ha dưới tán rừng"},
        headers=world.producer,
    )  # fmt: skip
    assert revised.status_code == 200
    assert revised.json()["raw_materials"] == "Ba kích tím, 12 ha dưới tán rừng"
    assert revised.json()["status"] == "returned"

    resubmitted = await registry_client.post(f"/v1/ideas/{idea['id']}/submit", headers=world.producer)
    assert resubmitted.status_code == 200
    assert resubmitted.json()["status"] == "submitted"
    assert resubmitted.json()["return_reason"] is None
    history = (
        await registry_client.get(f"/v1/products/{idea['product_id']}/history", headers=world.producer)
    ).json()
    returns = [entry for entry in history if entry["action"] == "idea_returned"]
    assert returns[0]["changes"]["reason"] == reason
    assert [entry["action"] for entry in history][-2:] == ["idea_updated", "idea_submitted"]


async def test_returned_plan_is_revised_and_approved(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    world = await make_world(registry_client, database)
    plan = await submitted_plan(registry_client, world)
    returned = await registry_client.post(
        f"/v1/business-plans/{plan['id']}/return", json={"reason": "Ngân sách chưa có nguồn vốn đối ứng"},
        headers=world.commune_officer,
    )  # fmt: skip
    assert (returned.status_code, returned.json()["status"]) == (200, "returned")
    assert await product_status(registry_client, world, plan["product_id"]) == "business_plan"
    revised = await registry_client.patch(
        f"/v1/business-plans/{plan['id']}", json={"budget_vnd": 280_000_000}, headers=world.producer
    )
    assert revised.json()["budget_vnd"] == 280_000_000
    await registry_client.post(f"/v1/business-plans/{plan['id']}/submit", headers=world.producer)
    approved = await registry_client.post(
        f"/v1/business-plans/{plan['id']}/approve", headers=world.commune_officer
    )
    assert approved.json()["status"] == "approved"
    assert await product_status(registry_client, world, plan["product_id"]) == "implementing"


# Illegal transitions


async def test_a_draft_idea_cannot_be_decided(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    world = await make_world(registry_client, database)
    idea = await new_idea(registry_client, world)
    approve = await registry_client.post(f"/v1/ideas/{idea['id']}/approve", headers=world.commune_officer)
    body = assert_conflict(approve, "draft")
    assert body["type"] == "/problems/illegal-transition"
    assert body["allowed"] == ["submitted"]
    give_back = await registry_client.post(
        f"/v1/ideas/{idea['id']}/return", json={"reason": "Chưa nộp"}, headers=world.commune_officer
    )
    assert_conflict(give_back, "draft")
    assert await product_status(registry_client, world, idea["product_id"]) == "idea"


async def test_a_submitted_idea_is_neither_resubmitted_nor_edited(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    world = await make_world(registry_client, database)
    idea = await submitted_idea(registry_client, world)
    resubmit = await registry_client.post(f"/v1/ideas/{idea['id']}/submit", headers=world.producer)
    assert assert_conflict(resubmit, "submitted")["allowed"] == ["approved", "returned"]
    edit = await registry_client.patch(
        f"/v1/ideas/{idea['id']}", json={"title": "Khác"}, headers=world.producer
    )
    body = assert_conflict(edit, "submitted")
    assert body["type"] == "/problems/review-not-editable"
    assert body["editable_states"] == ["draft", "returned"]
    read = await registry_client.get(f"/v1/ideas/{idea['id']}", headers=world.producer)
    assert read.json()["title"] == idea["title"]


@pytest.mark.parametrize(
    ("method", "action", "body"),
    [
        ("post", "submit", None),
        ("post", "approve", None),
        ("post", "return", {"reason": "Xem lại"}),
        ("patch", "", {"title": "Tên mới"}),
    ],
)
async def test_an_approved_idea_is_final(
    registry_client: httpx.AsyncClient, database: TestDatabase, method: str, action: str, body: Any
) -> None:
    world = await make_world(registry_client, database)
    idea = await approved_idea(registry_client, world)
    url = f"/v1/ideas/{idea['id']}/{action}".rstrip("/")
    response = await registry_client.request(method, url, json=body, headers=world.commune_officer)
    problem = assert_conflict(response, "approved")
    if action:
        assert problem["allowed"] == []
    assert await product_status(registry_client, world, idea["product_id"]) == "business_plan"


async def test_a_returned_idea_waits_for_resubmission(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    world = await make_world(registry_client, database)
    idea = await submitted_idea(registry_client, world)
    await registry_client.post(
        f"/v1/ideas/{idea['id']}/return", json={"reason": "Bổ sung"}, headers=world.commune_officer
    )
    approve = await registry_client.post(f"/v1/ideas/{idea['id']}/approve", headers=world.commune_officer)
    assert assert_conflict(approve, "returned")["allowed"] == ["submitted"]


@pytest.mark.parametrize("step", ["draft", "submitted", "returned"])
async def test_a_plan_needs_an_approved_idea(
    registry_client: httpx.AsyncClient, database: TestDatabase, step: str
) -> None:
    world = await make_world(registry_client, database)
    idea = await (new_idea if step == "draft" else submitted_idea)(registry_client, world)
    if step == "returned":
        await registry_client.post(
            f"/v1/ideas/{idea['id']}/return", json={"reason": "Bổ sung"}, headers=world.commune_officer
        )
    response = await registry_client.post(
        "/v1/business-plans", json=plan_body(idea["id"]), headers=world.producer
    )
    assert assert_conflict(response, step)["type"] == "/problems/idea-not-approved"
    listed = await registry_client.get(
        "/v1/business-plans", params={"idea_id": idea["id"]}, headers=world.producer
    )
    assert listed.json()["items"] == []


async def test_an_idea_has_one_plan(registry_client: httpx.AsyncClient, database: TestDatabase) -> None:
    world = await make_world(registry_client, database)
    plan = await new_plan(registry_client, world)
    again = await registry_client.post(
        "/v1/business-plans", json=plan_body(plan["idea_id"]), headers=world.commune_officer
    )
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/business-plan-exists"
    assert again.json()["business_plan_id"] == plan["id"]


async def test_illegal_plan_transitions_name_the_state(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    world = await make_world(registry_client, database)
    plan = await new_plan(registry_client, world)
    url = f"/v1/business-plans/{plan['id']}"
    assert_conflict(await registry_client.post(f"{url}/approve", headers=world.commune_officer), "draft")
    assert_conflict(
        await registry_client.post(f"{url}/return", json={"reason": "x"}, headers=world.commune_officer),
        "draft",
    )
    await registry_client.post(f"{url}/submit", headers=world.producer)
    assert_conflict(await registry_client.post(f"{url}/submit", headers=world.producer), "submitted")
    assert_conflict(
        await registry_client.patch(url, json={"budget_vnd": 1}, headers=world.producer), "submitted"
    )
    await registry_client.post(f"{url}/approve", headers=world.commune_officer)
    for action in ("submit", "approve"):
        assert_conflict(
            await registry_client.post(f"{url}/{action}", headers=world.commune_officer), "approved"
        )
    assert_conflict(
        await registry_client.post(f"{url}/return", json={"reason": "x"}, headers=world.commune_officer),
        "approved",
    )
    assert_conflict(
        await registry_client.patch(url, json={"market": "Khác"}, headers=world.producer), "approved"
    )
    assert await product_status(registry_client, world, plan["product_id"]) == "implementing"


async def test_two_concurrent_approvals_let_exactly_one_through(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    world = await make_world(registry_client, database)
    idea = await submitted_idea(registry_client, world)
    responses = await asyncio.gather(
        registry_client.post(f"/v1/ideas/{idea['id']}/approve", headers=world.commune_officer),
        registry_client.post(f"/v1/ideas/{idea['id']}/approve", headers=world.province_officer),
    )
    assert sorted(r.status_code for r in responses) == [200, 409]
    history = (
        await registry_client.get(f"/v1/products/{idea['product_id']}/history", headers=world.producer)
    ).json()
    assert [entry["action"] for entry in history].count("idea_approved") == 1
    assert [entry["action"] for entry in history].count("status_changed") == 1


# Validation


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 2001}])
async def test_return_needs_a_reason(
    registry_client: httpx.AsyncClient, database: TestDatabase, body: dict[str, Any]
) -> None:
    world = await make_world(registry_client, database)
    idea = await submitted_idea(registry_client, world)
    response = await registry_client.post(
        f"/v1/ideas/{idea['id']}/return", json=body, headers=world.commune_officer
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.reason"]
    read = await registry_client.get(f"/v1/ideas/{idea['id']}", headers=world.producer)
    assert read.json()["status"] == "submitted"


async def test_plan_return_needs_a_reason(registry_client: httpx.AsyncClient, database: TestDatabase) -> None:
    world = await make_world(registry_client, database)
    plan = await submitted_plan(registry_client, world)
    response = await registry_client.post(
        f"/v1/business-plans/{plan['id']}/return", json={}, headers=world.commune_officer
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.reason"]


async def test_invalid_idea_fields_are_named(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    world = await make_world(registry_client, database)
    response = await registry_client.post(
        "/v1/ideas", json=idea_body(world, product_set=27, raw_materials=""), headers=world.producer
    )
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"body.product_set", "body.raw_materials"}
    negative = await registry_client.post(
        "/v1/business-plans", json={**plan_body(str(uuid.uuid4())), "budget_vnd": -1}, headers=world.producer
    )
    assert [e["field"] for e in negative.json()["errors"]] == ["body.budget_vnd"]


# Atomicity


async def test_a_taken_product_name_creates_neither_product_nor_idea(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    world = await make_world(registry_client, database)
    first = await new_idea(registry_client, world, product_name="Chả mực Hạ Long")
    again = await registry_client.post(
        "/v1/ideas", json=idea_body(world, product_name="Chả mực Hạ Long"), headers=world.producer
    )
    assert again.status_code == 409
    assert again.json()["field"] == "body.product_name"
    ideas = await registry_client.get(
        "/v1/ideas", params={"entity_id": world.entity_id}, headers=world.producer
    )
    assert [idea["id"] for idea in ideas.json()["items"]] == [first["id"]]


async def test_a_failing_idea_insert_leaves_no_product_behind(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    world = await make_world(registry_client, database)
    marker = uuid.uuid4().hex
    # A database fault on the idea row, after the product row is written in the same request.
    connection = await asyncpg.connect(asyncpg_dsn(database.admin_url))
    try:
        await connection.execute(
            f"""CREATE FUNCTION registry.fail_{marker}() RETURNS trigger LANGUAGE plpgsql
                AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
                CREATE TRIGGER fail_{marker} BEFORE INSERT ON registry.idea FOR EACH ROW
                WHEN (NEW.title = '{marker}') EXECUTE FUNCTION registry.fail_{marker}();"""
        )
        response = await registry_client.post(
            "/v1/ideas", json=idea_body(world, title=marker), headers=world.producer
        )
    finally:
        await connection.execute(
            f"DROP TRIGGER fail_{marker} ON registry.idea; DROP FUNCTION registry.fail_{marker}();"
        )
        await connection.close()
    assert response.status_code == 500
    products = await registry_client.get(
        "/v1/products", params={"entity_id": world.entity_id}, headers=world.producer
    )
    assert products.json()["items"] == []
    ideas = await registry_client.get(
        "/v1/ideas", params={"entity_id": world.entity_id}, headers=world.producer
    )
    assert ideas.json()["items"] == []


# Listing


async def test_lists_filter_and_page(registry_client: httpx.AsyncClient, database: TestDatabase) -> None:
    world = await make_world(registry_client, database)
    ideas = [await new_idea(registry_client, world) for _ in range(3)]
    await registry_client.post(f"/v1/ideas/{ideas[0]['id']}/submit", headers=world.producer)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, "commune_code": world.unit.commune_code}
        if cursor:
            params["cursor"] = cursor
        page = (await registry_client.get("/v1/ideas", params=params, headers=world.commune_officer)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [idea["id"] for idea in reversed(ideas)]
    submitted = await registry_client.get(
        "/v1/ideas",
        params={"status": "submitted", "entity_id": world.entity_id},
        headers=world.province_officer,
    )
    assert [item["id"] for item in submitted.json()["items"]] == [ideas[0]["id"]]
    broken = await registry_client.get("/v1/ideas", params={"cursor": "bm90LWpzb24"}, headers=world.producer)
    assert broken.status_code == 422
    assert broken.json()["errors"][0]["field"] == "query.cursor"


# Authorization


async def test_idea_registration_authorization(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    world = await make_world(registry_client, database)
    assert (await registry_client.post("/v1/ideas", json=idea_body(world))).status_code == 401
    for name, headers in STRANGERS.items():
        response = await registry_client.post("/v1/ideas", json=idea_body(world), headers=headers)
        assert response.status_code == 404, name
        assert response.json()["field"] == "body.entity_id", name
    for headers in (world.producer, world.commune_officer, world.province_officer):
        response = await registry_client.post("/v1/ideas", json=idea_body(world), headers=headers)
        assert response.status_code == 201
    listed = await registry_client.get(
        "/v1/ideas", params={"entity_id": world.entity_id}, headers=world.producer
    )
    assert len(listed.json()["items"]) == 3


async def test_idea_reads_are_limited_to_the_entity_and_its_unit(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    world = await make_world(registry_client, database)
    idea = await new_idea(registry_client, world)
    url = f"/v1/ideas/{idea['id']}"
    assert (await registry_client.get(url)).status_code == 401
    assert (await registry_client.get("/v1/ideas")).status_code == 401
    for headers in (world.producer, world.commune_officer, world.province_officer, auth("admin")):
        assert (await registry_client.get(url, headers=headers)).status_code == 200
        listed = await registry_client.get(
            "/v1/ideas", params={"entity_id": world.entity_id}, headers=headers
        )
        assert [item["id"] for item in listed.json()["items"]] == [idea["id"]]
    for name, headers in STRANGERS.items():
        response = await registry_client.get(url, headers=headers)
        assert response.status_code == 404, name
        assert response.json()["type"] == "/problems/idea-not-found"
        listed = await registry_client.get(
            "/v1/ideas", params={"entity_id": world.entity_id}, headers=headers
        )
        assert listed.json()["items"] == [], name


async def test_idea_edits_and_submission_are_the_producers_and_staffs(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    world = await make_world(registry_client, database)
    idea = await new_idea(registry_client, world)
    url = f"/v1/ideas/{idea['id']}"
    assert (await registry_client.patch(url, json={"title": "Mới"})).status_code == 401
    assert (await registry_client.post(f"{url}/submit")).status_code == 401
    for name, headers in STRANGERS.items():
        assert (
            await registry_client.patch(url, json={"title": "Mới"}, headers=headers)
        ).status_code == 404, name
        assert (await registry_client.post(f"{url}/submit", headers=headers)).status_code == 404, name
    assert (
        await registry_client.patch(url, json={"title": "Ý tưởng"}, headers=world.producer)
    ).status_code == 200
    edited = await registry_client.patch(url, json={"title": "Ý tưởng rượu"}, headers=world.commune_officer)
    assert edited.json()["title"] == "Ý tưởng rượu"
    other = await new_idea(registry_client, world)
    for headers in (world.producer, world.province_officer):
        idea_id = idea["id"] if headers is world.producer else other["id"]
        assert (await registry_client.post(f"/v1/ideas/{idea_id}/submit", headers=headers)).status_code == 200


@pytest.mark.parametrize(("action", "body"), [("approve", None), ("return", {"reason": "Bổ sung hồ sơ"})])
async def test_idea_decisions_are_the_officers_of_the_unit(
    registry_client: httpx.AsyncClient, database: TestDatabase, action: str, body: Any
) -> None:
    world = await make_world(registry_client, database)
    idea = await submitted_idea(registry_client, world)
    url = f"/v1/ideas/{idea['id']}/{action}"
    assert (await registry_client.post(url, json=body)).status_code == 401
    for name, headers in STRANGERS.items():
        assert (await registry_client.post(url, json=body, headers=headers)).status_code == 404, name
    own = await registry_client.post(url, json=body, headers=world.producer)
    assert own.status_code == 403
    assert own.json()["type"] == "/problems/forbidden"
    assert (await registry_client.get(f"/v1/ideas/{idea['id']}", headers=world.producer)).json()[
        "status"
    ] == ("submitted")
    assert (await registry_client.post(url, json=body, headers=world.commune_officer)).status_code == 200
    second = await submitted_idea(registry_client, world)
    by_province = await registry_client.post(
        f"/v1/ideas/{second['id']}/{action}", json=body, headers=world.province_officer
    )
    assert by_province.status_code == 200


async def test_plan_creation_authorization(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    world = await make_world(registry_client, database)
    idea = await approved_idea(registry_client, world)
    assert (await registry_client.post("/v1/business-plans", json=plan_body(idea["id"]))).status_code == 401
    for name, headers in STRANGERS.items():
        response = await registry_client.post(
            "/v1/business-plans", json=plan_body(idea["id"]), headers=headers
        )
        assert response.status_code == 404, name
        assert response.json()["type"] == "/problems/idea-not-found", name
        assert response.json()["field"] == "body.idea_id", name
    created = await registry_client.post(
        "/v1/business-plans", json=plan_body(idea["id"]), headers=world.producer
    )
    assert created.status_code == 201
    for headers in (world.commune_officer, world.province_officer):
        approved = await approved_idea(registry_client, world)
        response = await registry_client.post(
            "/v1/business-plans", json=plan_body(approved["id"]), headers=headers
        )
        assert response.status_code == 201


async def test_plan_reads_edits_and_submission_authorization(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    world = await make_world(registry_client, database)
    plan = await new_plan(registry_client, world)
    url = f"/v1/business-plans/{plan['id']}"
    assert (await registry_client.get(url)).status_code == 401
    assert (await registry_client.get("/v1/business-plans")).status_code == 401
    assert (await registry_client.patch(url, json={"market": "Khác"})).status_code == 401
    assert (await registry_client.post(f"{url}/submit")).status_code == 401
    for name, headers in STRANGERS.items():
        response = await registry_client.get(url, headers=headers)
        assert response.status_code == 404, name
        assert response.json()["type"] == "/problems/business-plan-not-found"
        listed = await registry_client.get(
            "/v1/business-plans", params={"entity_id": world.entity_id}, headers=headers
        )
        assert listed.json()["items"] == [], name
        assert (await registry_client.patch(url, json={"market": "Khác"}, headers=headers)).status_code == 404
        assert (await registry_client.post(f"{url}/submit", headers=headers)).status_code == 404, name
    for headers in (world.producer, world.commune_officer, world.province_officer):
        assert (await registry_client.get(url, headers=headers)).status_code == 200
        listed = await registry_client.get(
            "/v1/business-plans", params={"entity_id": world.entity_id}, headers=headers
        )
        assert [item["id"] for item in listed.json()["items"]] == [plan["id"]]
        assert (
            await registry_client.patch(url, json={"market": "Hạ Long"}, headers=headers)
        ).status_code == 200
    assert (await registry_client.post(f"{url}/submit", headers=world.producer)).status_code == 200


@pytest.mark.parametrize(
    ("action", "body"), [("approve", None), ("return", {"reason": "Thiếu dự toán chi tiết"})]
)
async def test_plan_decisions_are_the_officers_of_the_unit(
    registry_client: httpx.AsyncClient, database: TestDatabase, action: str, body: Any
) -> None:
    world = await make_world(registry_client, database)
    plan = await submitted_plan(registry_client, world)
    url = f"/v1/business-plans/{plan['id']}/{action}"
    assert (await registry_client.post(url, json=body)).status_code == 401
    for name, headers in STRANGERS.items():
        assert (await registry_client.post(url, json=body, headers=headers)).status_code == 404, name
    own = await registry_client.post(url, json=body, headers=world.producer)
    assert own.status_code == 403
    assert await product_status(registry_client, world, plan["product_id"]) == "business_plan"
    assert (await registry_client.post(url, json=body, headers=world.province_officer)).status_code == 200


async def test_a_retried_idea_registration_creates_one_idea_and_one_product(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    world = await make_world(registry_client, database)
    headers = world.producer | {"Idempotency-Key": f"idea-{uuid.uuid4()}"}
    body = idea_body(world)
    first = await registry_client.post("/v1/ideas", json=body, headers=headers)
    retry = await registry_client.post("/v1/ideas", json=body, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    ideas = await registry_client.get(
        "/v1/ideas", params={"entity_id": world.entity_id}, headers=world.producer
    )
    products = await registry_client.get(
        "/v1/products", params={"entity_id": world.entity_id}, headers=world.producer
    )
    assert len(ideas.json()["items"]) == 1
    assert len(products.json()["items"]) == 1
