"""The OCOP cycle's idea and business-plan reviews (in-process registry, real PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from tests import builders
from tests.builders import Producer, idea_body, plan_body
from tests.conftest import auth

# Callers who must not learn that another unit's or entity's records exist.
STRANGERS = {
    "other producer": auth("producer", str(uuid.uuid4())),
    "officer of another commune": auth("commune_officer", "00001"),
    "officer of another province": auth("province_officer", "01"),
    "partner": auth("partner", "shopee"),
}


async def product_status(client: httpx.AsyncClient, world: Producer, product_id: str) -> str:
    """The product's lifecycle status, as its producer reads it."""
    response = await client.get(f"/v1/products/{product_id}", headers=world.headers)
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
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    world = await builders.producer(registry_client, db)
    created = await registry_client.post(
        "/v1/ideas", json=idea_body(world, product_name="Rượu ba kích Ba Chẽ", classification="26/2026"),
        headers=world.headers,
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
    product = (await registry_client.get(f"/v1/products/{idea['product_id']}", headers=world.headers)).json()
    assert (product["name"], product["status"], product["classification"]) == (
        "Rượu ba kích Ba Chẽ", "idea", "26/2026",
    )  # fmt: skip

    submitted = await registry_client.post(f"/v1/ideas/{idea['id']}/submit", headers=world.headers)
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
        "/v1/business-plans", json=plan_body(idea["id"]), headers=world.headers
    )
    assert plan_created.status_code == 201, plan_created.text
    plan = plan_created.json()
    assert plan_created.headers["location"] == f"/v1/business-plans/{plan['id']}"
    assert (plan["status"], plan["idea_id"], plan["product_id"]) == ("draft", idea["id"], idea["product_id"])
    assert plan["budget_vnd"] == 350_000_000

    submit_plan = await registry_client.post(f"/v1/business-plans/{plan['id']}/submit", headers=world.headers)
    assert submit_plan.json()["status"] == "submitted"
    approve_plan = await registry_client.post(
        f"/v1/business-plans/{plan['id']}/approve", headers=world.province_officer
    )
    assert approve_plan.status_code == 200
    assert (approve_plan.json()["status"], approve_plan.json()["decided_by"]) == ("approved", "can-bo-tinh")
    assert await product_status(registry_client, world, idea["product_id"]) == "implementing"

    history = (
        await registry_client.get(f"/v1/products/{idea['product_id']}/history", headers=world.headers)
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
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    world = await builders.producer(registry_client, db)
    idea = await builders.submitted_idea(registry_client, world)
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
        headers=world.headers,
    )  # fmt: skip
    assert revised.status_code == 200
    assert revised.json()["raw_materials"] == "Ba kích tím, 12 ha dưới tán rừng"
    assert revised.json()["status"] == "returned"

    resubmitted = await registry_client.post(f"/v1/ideas/{idea['id']}/submit", headers=world.headers)
    assert resubmitted.status_code == 200
    assert resubmitted.json()["status"] == "submitted"
    assert resubmitted.json()["return_reason"] is None
    history = (
        await registry_client.get(f"/v1/products/{idea['product_id']}/history", headers=world.headers)
    ).json()
    returns = [entry for entry in history if entry["action"] == "idea_returned"]
    assert returns[0]["changes"]["reason"] == reason
    assert [entry["action"] for entry in history][-2:] == ["idea_updated", "idea_submitted"]


async def test_returned_plan_is_revised_and_approved(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    world = await builders.producer(registry_client, db)
    plan = await builders.submitted_plan(registry_client, world)
    returned = await registry_client.post(
        f"/v1/business-plans/{plan['id']}/return", json={"reason": "Ngân sách chưa có nguồn vốn đối ứng"},
        headers=world.commune_officer,
    )  # fmt: skip
    assert (returned.status_code, returned.json()["status"]) == (200, "returned")
    assert await product_status(registry_client, world, plan["product_id"]) == "business_plan"
    revised = await registry_client.patch(
        f"/v1/business-plans/{plan['id']}", json={"budget_vnd": 280_000_000}, headers=world.headers
    )
    assert revised.json()["budget_vnd"] == 280_000_000
    resubmitted = await registry_client.post(f"/v1/business-plans/{plan['id']}/submit", headers=world.headers)
    assert resubmitted.json()["status"] == "submitted"
    approved = await registry_client.post(
        f"/v1/business-plans/{plan['id']}/approve", headers=world.commune_officer
    )
    assert approved.json()["status"] == "approved"
    assert await product_status(registry_client, world, plan["product_id"]) == "implementing"


# Illegal transitions


async def test_a_draft_idea_cannot_be_decided(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    world = await builders.producer(registry_client, db)
    idea = await builders.idea(registry_client, world)
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
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    world = await builders.producer(registry_client, db)
    idea = await builders.submitted_idea(registry_client, world)
    resubmit = await registry_client.post(f"/v1/ideas/{idea['id']}/submit", headers=world.headers)
    assert assert_conflict(resubmit, "submitted")["allowed"] == ["approved", "returned"]
    edit = await registry_client.patch(
        f"/v1/ideas/{idea['id']}", json={"title": "Khác"}, headers=world.headers
    )
    body = assert_conflict(edit, "submitted")
    assert body["type"] == "/problems/review-not-editable"
    assert body["editable_states"] == ["draft", "returned"]
    read = await registry_client.get(f"/v1/ideas/{idea['id']}", headers=world.headers)
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
    registry_client: httpx.AsyncClient, db: asyncpg.Connection, method: str, action: str, body: Any
) -> None:
    world = await builders.producer(registry_client, db)
    idea = await builders.approved_idea(registry_client, world)
    url = f"/v1/ideas/{idea['id']}/{action}".rstrip("/")
    response = await registry_client.request(method, url, json=body, headers=world.commune_officer)
    problem = assert_conflict(response, "approved")
    if action:
        assert problem["allowed"] == []
    assert await product_status(registry_client, world, idea["product_id"]) == "business_plan"


async def test_a_returned_idea_waits_for_resubmission(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    world = await builders.producer(registry_client, db)
    idea = await builders.returned_idea(registry_client, world)
    approve = await registry_client.post(f"/v1/ideas/{idea['id']}/approve", headers=world.commune_officer)
    assert assert_conflict(approve, "returned")["allowed"] == ["submitted"]


@pytest.mark.parametrize("step", ["draft", "submitted", "returned"])
async def test_a_plan_needs_an_approved_idea(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection, step: str
) -> None:
    world = await builders.producer(registry_client, db)
    build = {"draft": builders.idea, "submitted": builders.submitted_idea, "returned": builders.returned_idea}
    idea = await build[step](registry_client, world)
    response = await registry_client.post(
        "/v1/business-plans", json=plan_body(idea["id"]), headers=world.headers
    )
    assert assert_conflict(response, step)["type"] == "/problems/idea-not-approved"
    listed = await registry_client.get(
        "/v1/business-plans", params={"idea_id": idea["id"]}, headers=world.headers
    )
    assert listed.json()["items"] == []


async def test_an_idea_has_one_plan(registry_client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    world = await builders.producer(registry_client, db)
    plan = await builders.plan(registry_client, world)
    again = await registry_client.post(
        "/v1/business-plans", json=plan_body(plan["idea_id"]), headers=world.commune_officer
    )
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/business-plan-exists"
    assert again.json()["business_plan_id"] == plan["id"]


async def test_illegal_plan_transitions_name_the_state(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    world = await builders.producer(registry_client, db)
    plan = await builders.plan(registry_client, world)
    url = f"/v1/business-plans/{plan['id']}"
    assert_conflict(await registry_client.post(f"{url}/approve", headers=world.commune_officer), "draft")
    assert_conflict(
        await registry_client.post(f"{url}/return", json={"reason": "x"}, headers=world.commune_officer),
        "draft",
    )
    assert (await registry_client.post(f"{url}/submit", headers=world.headers)).json()[
        "status"
    ] == "submitted"
    assert_conflict(await registry_client.post(f"{url}/submit", headers=world.headers), "submitted")
    assert_conflict(
        await registry_client.patch(url, json={"budget_vnd": 1}, headers=world.headers), "submitted"
    )
    assert (await registry_client.post(f"{url}/approve", headers=world.commune_officer)).status_code == 200
    for action in ("submit", "approve"):
        assert_conflict(
            await registry_client.post(f"{url}/{action}", headers=world.commune_officer), "approved"
        )
    assert_conflict(
        await registry_client.post(f"{url}/return", json={"reason": "x"}, headers=world.commune_officer),
        "approved",
    )
    assert_conflict(
        await registry_client.patch(url, json={"market": "Khác"}, headers=world.headers), "approved"
    )
    assert await product_status(registry_client, world, plan["product_id"]) == "implementing"


@pytest.mark.commits  # two transactions race for the idea's row lock
async def test_two_concurrent_approvals_let_exactly_one_through(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    world = await builders.producer(registry_client, db)
    idea = await builders.submitted_idea(registry_client, world)
    responses = await asyncio.gather(
        registry_client.post(f"/v1/ideas/{idea['id']}/approve", headers=world.commune_officer),
        registry_client.post(f"/v1/ideas/{idea['id']}/approve", headers=world.province_officer),
    )
    assert sorted(r.status_code for r in responses) == [200, 409]
    history = (
        await registry_client.get(f"/v1/products/{idea['product_id']}/history", headers=world.headers)
    ).json()
    assert [entry["action"] for entry in history].count("idea_approved") == 1
    assert [entry["action"] for entry in history].count("status_changed") == 1


# Validation


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 2001}])
async def test_return_needs_a_reason(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection, body: dict[str, Any]
) -> None:
    world = await builders.producer(registry_client, db)
    idea = await builders.submitted_idea(registry_client, world)
    response = await registry_client.post(
        f"/v1/ideas/{idea['id']}/return", json=body, headers=world.commune_officer
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.reason"]
    read = await registry_client.get(f"/v1/ideas/{idea['id']}", headers=world.headers)
    assert read.json()["status"] == "submitted"


async def test_plan_return_needs_a_reason(registry_client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    world = await builders.producer(registry_client, db)
    plan = await builders.submitted_plan(registry_client, world)
    response = await registry_client.post(
        f"/v1/business-plans/{plan['id']}/return", json={}, headers=world.commune_officer
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.reason"]


async def test_invalid_idea_fields_are_named(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    world = await builders.producer(registry_client, db)
    response = await registry_client.post(
        "/v1/ideas", json=idea_body(world, product_set=27, raw_materials=""), headers=world.headers
    )
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"body.product_set", "body.raw_materials"}
    negative = await registry_client.post(
        "/v1/business-plans", json={**plan_body(str(uuid.uuid4())), "budget_vnd": -1}, headers=world.headers
    )
    assert [e["field"] for e in negative.json()["errors"]] == ["body.budget_vnd"]


# Atomicity


async def test_a_taken_product_name_creates_neither_product_nor_idea(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    world = await builders.producer(registry_client, db)
    first = await builders.idea(registry_client, world, product_name="Chả mực Hạ Long")
    again = await registry_client.post(
        "/v1/ideas", json=idea_body(world, product_name="Chả mực Hạ Long"), headers=world.headers
    )
    assert again.status_code == 409
    assert again.json()["field"] == "body.product_name"
    ideas = await registry_client.get(
        "/v1/ideas", params={"entity_id": world.entity_id}, headers=world.headers
    )
    assert [idea["id"] for idea in ideas.json()["items"]] == [first["id"]]


async def test_a_failing_idea_insert_leaves_no_product_behind(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    world = await builders.producer(registry_client, db)
    # A database fault on the idea row, after the product row is written in the same request (the
    # trigger goes away with the test's transaction).
    await db.execute(
        """CREATE FUNCTION registry.fail_idea() RETURNS trigger LANGUAGE plpgsql
           AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
           CREATE TRIGGER fail_idea BEFORE INSERT ON registry.idea FOR EACH ROW
           EXECUTE FUNCTION registry.fail_idea();"""
    )
    response = await registry_client.post("/v1/ideas", json=idea_body(world), headers=world.headers)
    assert response.status_code == 500
    products = await registry_client.get(
        "/v1/products", params={"entity_id": world.entity_id}, headers=world.headers
    )
    assert products.json()["items"] == []
    ideas = await registry_client.get(
        "/v1/ideas", params={"entity_id": world.entity_id}, headers=world.headers
    )
    assert ideas.json()["items"] == []


# Listing


@pytest.mark.commits  # newest first: each request's transaction has its own now()
async def test_lists_filter_and_page(registry_client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    world = await builders.producer(registry_client, db)
    ideas = [await builders.idea(registry_client, world) for _ in range(3)]
    submit = await registry_client.post(f"/v1/ideas/{ideas[0]['id']}/submit", headers=world.headers)
    assert submit.status_code == 200, submit.text
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
    broken = await registry_client.get("/v1/ideas", params={"cursor": "bm90LWpzb24"}, headers=world.headers)
    assert broken.status_code == 422
    assert broken.json()["errors"][0]["field"] == "query.cursor"


# Authorization


async def test_idea_registration_authorization(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    world = await builders.producer(registry_client, db)
    assert (await registry_client.post("/v1/ideas", json=idea_body(world))).status_code == 401
    for name, headers in STRANGERS.items():
        response = await registry_client.post("/v1/ideas", json=idea_body(world), headers=headers)
        assert response.status_code == 404, name
        assert response.json()["field"] == "body.entity_id", name
    for headers in (world.headers, world.commune_officer, world.province_officer):
        response = await registry_client.post("/v1/ideas", json=idea_body(world), headers=headers)
        assert response.status_code == 201
    listed = await registry_client.get(
        "/v1/ideas", params={"entity_id": world.entity_id}, headers=world.headers
    )
    assert len(listed.json()["items"]) == 3


async def test_idea_reads_are_limited_to_the_entity_and_its_unit(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    world = await builders.producer(registry_client, db)
    idea = await builders.idea(registry_client, world)
    url = f"/v1/ideas/{idea['id']}"
    assert (await registry_client.get(url)).status_code == 401
    assert (await registry_client.get("/v1/ideas")).status_code == 401
    for headers in (world.headers, world.commune_officer, world.province_officer, auth("admin")):
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
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    world = await builders.producer(registry_client, db)
    idea = await builders.idea(registry_client, world)
    url = f"/v1/ideas/{idea['id']}"
    assert (await registry_client.patch(url, json={"title": "Mới"})).status_code == 401
    assert (await registry_client.post(f"{url}/submit")).status_code == 401
    for name, headers in STRANGERS.items():
        assert (
            await registry_client.patch(url, json={"title": "Mới"}, headers=headers)
        ).status_code == 404, name
        assert (await registry_client.post(f"{url}/submit", headers=headers)).status_code == 404, name
    assert (
        await registry_client.patch(url, json={"title": "Ý tưởng"}, headers=world.headers)
    ).status_code == 200
    edited = await registry_client.patch(url, json={"title": "Ý tưởng rượu"}, headers=world.commune_officer)
    assert edited.json()["title"] == "Ý tưởng rượu"
    other = await builders.idea(registry_client, world)
    for headers in (world.headers, world.province_officer):
        idea_id = idea["id"] if headers is world.headers else other["id"]
        assert (await registry_client.post(f"/v1/ideas/{idea_id}/submit", headers=headers)).status_code == 200


@pytest.mark.parametrize(("action", "body"), [("approve", None), ("return", {"reason": "Bổ sung hồ sơ"})])
async def test_idea_decisions_are_the_officers_of_the_unit(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection, action: str, body: Any
) -> None:
    world = await builders.producer(registry_client, db)
    idea = await builders.submitted_idea(registry_client, world)
    url = f"/v1/ideas/{idea['id']}/{action}"
    assert (await registry_client.post(url, json=body)).status_code == 401
    for name, headers in STRANGERS.items():
        assert (await registry_client.post(url, json=body, headers=headers)).status_code == 404, name
    own = await registry_client.post(url, json=body, headers=world.headers)
    assert own.status_code == 403
    assert own.json()["type"] == "/problems/forbidden"
    assert (await registry_client.get(f"/v1/ideas/{idea['id']}", headers=world.headers)).json()["status"] == (
        "submitted"
    )
    assert (await registry_client.post(url, json=body, headers=world.commune_officer)).status_code == 200
    second = await builders.submitted_idea(registry_client, world)
    by_province = await registry_client.post(
        f"/v1/ideas/{second['id']}/{action}", json=body, headers=world.province_officer
    )
    assert by_province.status_code == 200


async def test_plan_creation_authorization(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    world = await builders.producer(registry_client, db)
    idea = await builders.approved_idea(registry_client, world)
    assert (await registry_client.post("/v1/business-plans", json=plan_body(idea["id"]))).status_code == 401
    for name, headers in STRANGERS.items():
        response = await registry_client.post(
            "/v1/business-plans", json=plan_body(idea["id"]), headers=headers
        )
        assert response.status_code == 404, name
        assert response.json()["type"] == "/problems/idea-not-found", name
        assert response.json()["field"] == "body.idea_id", name
    created = await registry_client.post(
        "/v1/business-plans", json=plan_body(idea["id"]), headers=world.headers
    )
    assert created.status_code == 201
    for headers in (world.commune_officer, world.province_officer):
        approved = await builders.approved_idea(registry_client, world)
        response = await registry_client.post(
            "/v1/business-plans", json=plan_body(approved["id"]), headers=headers
        )
        assert response.status_code == 201


async def test_plan_reads_edits_and_submission_authorization(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    world = await builders.producer(registry_client, db)
    plan = await builders.plan(registry_client, world)
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
    for headers in (world.headers, world.commune_officer, world.province_officer):
        assert (await registry_client.get(url, headers=headers)).status_code == 200
        listed = await registry_client.get(
            "/v1/business-plans", params={"entity_id": world.entity_id}, headers=headers
        )
        assert [item["id"] for item in listed.json()["items"]] == [plan["id"]]
        assert (
            await registry_client.patch(url, json={"market": "Hạ Long"}, headers=headers)
        ).status_code == 200
    assert (await registry_client.post(f"{url}/submit", headers=world.headers)).status_code == 200


@pytest.mark.parametrize(
    ("action", "body"), [("approve", None), ("return", {"reason": "Thiếu dự toán chi tiết"})]
)
async def test_plan_decisions_are_the_officers_of_the_unit(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection, action: str, body: Any
) -> None:
    world = await builders.producer(registry_client, db)
    plan = await builders.submitted_plan(registry_client, world)
    url = f"/v1/business-plans/{plan['id']}/{action}"
    assert (await registry_client.post(url, json=body)).status_code == 401
    for name, headers in STRANGERS.items():
        assert (await registry_client.post(url, json=body, headers=headers)).status_code == 404, name
    own = await registry_client.post(url, json=body, headers=world.headers)
    assert own.status_code == 403
    assert await product_status(registry_client, world, plan["product_id"]) == "business_plan"
    assert (await registry_client.post(url, json=body, headers=world.province_officer)).status_code == 200


async def test_a_retried_idea_registration_creates_one_idea_and_one_product(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    world = await builders.producer(registry_client, db)
    headers = world.headers | {"Idempotency-Key": "y-tuong-1"}
    body = idea_body(world)
    first = await registry_client.post("/v1/ideas", json=body, headers=headers)
    retry = await registry_client.post("/v1/ideas", json=body, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    ideas = await registry_client.get(
        "/v1/ideas", params={"entity_id": world.entity_id}, headers=world.headers
    )
    products = await registry_client.get(
        "/v1/products", params={"entity_id": world.entity_id}, headers=world.headers
    )
    assert len(ideas.json()["items"]) == 1
    assert len(products.json()["items"]) == 1
