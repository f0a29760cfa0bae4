"""Dossiers up to their round: opening for a registry product, submission with its snapshot, the checks,
returns and resubmission, rounds, attachments; every refusal a problem naming the field or the state."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from tests import builders
from tests.builders import ADMIN
from tests.conftest import auth

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


async def _actions(scoring: httpx.AsyncClient, application_id: str) -> list[str]:
    entries = (await scoring.get(f"/v1/audit/{application_id}", headers=ADMIN)).json()["items"]
    return sorted(entry["action"] for entry in entries)


async def test_a_producer_opens_a_draft_for_its_own_product(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """The draft carries the product's entity, unit, set and classification, as the registry has them."""
    made = await builders.dossier(registry_client, scoring_client, db)
    draft = made.application
    assert (draft["status"], draft["type"], draft["product_id"]) == ("draft", "new", made.product["id"])
    assert (draft["entity_id"], draft["commune_code"], draft["province_code"]) == (
        made.owner.entity_id, made.owner.unit.commune_code, made.owner.unit.province_code,
    )  # fmt: skip
    assert (draft["product_set"], draft["classification"]) == (
        made.product["product_set"],
        made.product["classification"],
    )
    assert (draft["snapshot_sha256"], draft["submitted_at"], draft["scoring_pass"]) == (None, None, 0)
    # Pinned when opened (so the producer knows the sheet to self-assess on), again at submission.
    assert draft["criteria_version"] == "26/2026"
    assert draft["sheet_id"] is not None
    assert await _actions(scoring_client, made.id) == ["application.created"]


async def test_officers_of_the_unit_and_admins_open_dossiers_too(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """The commune officer, the province officer and an admin may each open one (one at a time per product)."""
    owner = await builders.producer(registry_client, db)
    for headers in (owner.commune_officer, owner.province_officer, ADMIN):
        product = await builders.product(registry_client, owner)
        body = {"product_id": product["id"], "type": "new"}
        answer = await scoring_client.post("/v1/applications", json=body, headers=headers)
        assert answer.status_code == 201, answer.text
        assert answer.headers["location"] == f"/v1/applications/{answer.json()['id']}"


@pytest.mark.parametrize(
    "who",
    [
        "another producer",
        "another province's officer",
        "another commune's officer",
        "nobody: no such product",
    ],
)
async def test_a_product_one_may_not_apply_for_is_not_found(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection, who: str
) -> None:
    """Another producer's product, or another unit's, answers exactly as a product that does not exist."""
    owner = await builders.producer(registry_client, db)
    product_id = (await builders.product(registry_client, owner))["id"]
    headers = {
        "another producer": auth("producer", str(uuid.uuid4())),
        "another province's officer": builders.province_officer("25"),
        "another commune's officer": auth("commune_officer", f"{owner.unit.province_code}999"),
        "nobody: no such product": owner.headers,
    }[who]
    if who.startswith("nobody"):
        product_id = str(uuid.uuid4())
    answer = await scoring_client.post(
        "/v1/applications", json={"product_id": product_id, "type": "new"}, headers=headers
    )
    assert answer.status_code == 404, answer.text
    assert (answer.json()["type"], answer.json()["field"]) == (
        "/problems/product-not-found",
        "body.product_id",
    )
    listed = await scoring_client.get("/v1/applications", params={"product_id": product_id}, headers=ADMIN)
    assert listed.json()["items"] == []


@pytest.mark.parametrize(
    ("role", "claim", "expected"),
    [
        (None, None, 401),
        ("council_member", "9d2e7b61-4a3c-4f85-b0d9-6e1c2a7f3b44", 403),
        ("national", "client-1", 403),
        ("partner", "client-1", 403),
        ("service", "stamps", 403),
    ],
)
async def test_roles_that_never_open_dossiers(
    scoring_client: httpx.AsyncClient, role: str | None, claim: str | None, expected: int
) -> None:
    """Council members, the national and partner clients and services open none (refused before any lookup)."""
    headers = auth(role, claim) if role else {}
    body = {"product_id": str(uuid.uuid4()), "type": "new"}
    answer = await scoring_client.post("/v1/applications", json=body, headers=headers)
    assert answer.status_code == expected, answer.text


async def test_the_type_must_fit_the_products_certificate(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """A new evaluation is for an uncertified product; an upgrade or re-rating for a certified one."""
    owner = await builders.producer(registry_client, db)
    plain = await builders.product(registry_client, owner)
    certified = await builders.certified_product(registry_client, owner, star=3)
    for product, kind in [(plain, "upgrade"), (plain, "re_rating"), (certified, "new")]:
        answer = await scoring_client.post(
            "/v1/applications", json={"product_id": product["id"], "type": kind}, headers=owner.headers
        )
        assert (answer.status_code, answer.json()["errors"][0]["field"]) == (422, "body.type"), (
            kind,
            answer.text,
        )
    upgrade = await builders.dossier(
        registry_client, scoring_client, db, owner=owner, product_=certified, application_type="upgrade"
    )
    assert upgrade.application["type"] == "upgrade"


async def test_one_evaluation_of_a_product_at_a_time(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """A second dossier for a product whose evaluation is under way is a 409 naming the first."""
    made = await builders.dossier(registry_client, scoring_client, db)
    body = {"product_id": made.product["id"], "type": "new"}
    answer = await scoring_client.post("/v1/applications", json=body, headers=made.owner.headers)
    assert answer.status_code == 409
    assert (answer.json()["application_id"], answer.json()["current_state"]) == (made.id, "draft")


async def test_submission_pins_a_sealed_snapshot_of_the_registry_records(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """The product and its entity are stored as the registry served them, with the SHA-256 of their JSON."""
    made = await builders.dossier(registry_client, scoring_client, db)
    submitted = await builders.submitted(scoring_client, made)
    assert submitted["status"] == "submitted"
    assert submitted["submitted_at"] is not None
    pinned = (await scoring_client.get(f"{made.url}/snapshot", headers=made.owner.headers)).json()
    product = (await registry_client.get(f"/v1/products/{made.product['id']}", headers=ADMIN)).json()
    entity = (await registry_client.get(f"/v1/entities/{made.owner.entity_id}", headers=ADMIN)).json()
    assert pinned["snapshot"] == {"product": product, "entity": entity}
    canonical = orjson.dumps(pinned["snapshot"], option=orjson.OPT_SORT_KEYS)
    assert pinned["snapshot_sha256"] == submitted["snapshot_sha256"] == hashlib.sha256(canonical).hexdigest()
    # A later change in the registry leaves the pinned snapshot as it was.
    await registry_client.patch(
        f"/v1/products/{made.product['id']}", json={"description": "Mô tả mới"}, headers=ADMIN
    )
    again = (await scoring_client.get(f"{made.url}/snapshot", headers=made.owner.headers)).json()
    assert again["snapshot"]["product"]["description"] == product["description"]


async def test_a_draft_has_no_snapshot(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Before its first submission a dossier's snapshot is a 404 of its own type."""
    made = await builders.dossier(registry_client, scoring_client, db)
    answer = await scoring_client.get(f"{made.url}/snapshot", headers=made.owner.headers)
    assert (answer.status_code, answer.json()["type"]) == (404, "/problems/snapshot-not-found")


async def test_the_registry_down_at_submission_is_a_503_and_nothing_changes(
    registry_client: httpx.AsyncClient,
    scoring_client: httpx.AsyncClient,
    db: asyncpg.Connection,
    registry_down: Callable[[], Any],
) -> None:
    """503 problem+json with Retry-After; the dossier stays a draft without snapshot, audit or pin."""
    made = await builders.dossier(registry_client, scoring_client, db)
    await builders.self_assessed(scoring_client, made)
    before = (await scoring_client.get(made.url, headers=made.owner.headers)).json()
    async with registry_down():
        answer = await scoring_client.post(f"{made.url}/submit", headers=made.owner.headers)
        opened = await scoring_client.post(
            "/v1/applications",
            json={"product_id": str(uuid.uuid4()), "type": "new"},
            headers=made.owner.headers,
        )
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert int(answer.headers["retry-after"]) > 0
    assert opened.status_code == 503
    after = (await scoring_client.get(made.url, headers=made.owner.headers)).json()
    assert after == before
    assert (after["status"], after["snapshot_sha256"], after["submitted_at"]) == ("draft", None, None)
    assert await _actions(scoring_client, made.id) == ["application.created", "application.self_assessed"]
    listed = await scoring_client.get("/v1/applications", headers=made.owner.headers)
    assert [item["id"] for item in listed.json()["items"]] == [made.id]


async def test_return_with_a_reason_and_resubmit(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """The commune returns (a reason is required), the producer resubmits, the province returns, and again."""
    made = await builders.dossier(registry_client, scoring_client, db)
    owner = made.owner
    await builders.submitted(scoring_client, made)
    no_reason = await scoring_client.post(
        f"{made.url}/precheck", json={"decision": "return"}, headers=owner.commune_officer
    )
    assert (no_reason.status_code, no_reason.json()["errors"][0]["field"]) == (422, "body.reason")
    returned = await builders.step(
        scoring_client,
        made,
        "precheck",
        owner.commune_officer,
        {"decision": "return", "reason": "Thiếu nhãn"},
    )
    assert (returned["status"], returned["return_reason"]) == ("returned", "Thiếu nhãn")
    resubmitted = await builders.step(scoring_client, made, "submit", owner.headers)
    assert (resubmitted["status"], resubmitted["return_reason"]) == ("submitted", None)
    await builders.step(scoring_client, made, "precheck", owner.commune_officer, {"decision": "forward"})
    incomplete = await builders.step(
        scoring_client,
        made,
        "completeness",
        owner.province_officer,
        {"decision": "return", "reason": "Thiếu kiểm nghiệm"},
    )
    assert incomplete["status"] == "returned"
    eligible = await builders.eligible(scoring_client, made)
    assert eligible["status"] == "eligible"
    actions = await _actions(scoring_client, made.id)
    assert actions.count("application.submitted") == 3
    assert actions.count("application.returned") == 2
    assert actions.count("application.forwarded") == 2


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("precheck", {"decision": "forward"}),
        ("completeness", {"decision": "eligible"}),
        ("assign", {"round_id": str(uuid.uuid4())}),
        ("start-scoring", None),
        ("propose-central", None),
        ("assign-central", {"round_id": str(uuid.uuid4())}),
    ],
)
async def test_illegal_steps_name_the_current_state(
    registry_client: httpx.AsyncClient,
    scoring_client: httpx.AsyncClient,
    db: asyncpg.Connection,
    action: str,
    body: dict[str, str] | None,
) -> None:
    """A step a draft cannot take is a 409 problem whose detail and ``current_state`` name the state."""
    made = await builders.dossier(registry_client, scoring_client, db)
    await builders.council(scoring_client, province_code=made.owner.unit.province_code)
    answer = await scoring_client.post(f"{made.url}/{action}", json=body, headers=ADMIN)
    assert answer.status_code == 409, answer.text
    problem = answer.json()
    assert (problem["type"], problem["current_state"]) == ("/problems/illegal-transition", "draft")
    assert "'draft'" in problem["detail"]


async def test_a_submitted_dossier_is_not_submitted_again(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Submitting twice is a 409 naming ``submitted``."""
    made = await builders.dossier(registry_client, scoring_client, db)
    await builders.submitted(scoring_client, made)
    answer = await scoring_client.post(f"{made.url}/submit", headers=made.owner.headers)
    assert (answer.status_code, answer.json()["current_state"]) == (409, "submitted")


async def test_assignment_needs_an_open_round_of_the_dossiers_province(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Another province's round, a central round and a closed round are refused naming ``body.round_id``."""
    made = await builders.dossier(registry_client, scoring_client, db)
    await builders.eligible(scoring_client, made)
    province = made.owner.unit.province_code
    mine = await builders.council(scoring_client, province_code=province)
    other = await builders.council(scoring_client, province_code="25")
    central = await builders.council(scoring_client, province_code=None)
    closed = await builders.scoring_round(scoring_client, mine)
    await scoring_client.post(f"/v1/rounds/{closed['id']}/close", headers=mine.manager)
    for round_id, status in [
        ((await builders.scoring_round(scoring_client, other))["id"], 422),
        ((await builders.scoring_round(scoring_client, central))["id"], 422),
        (closed["id"], 409),
        (str(uuid.uuid4()), 404),
    ]:
        answer = await scoring_client.post(f"{made.url}/assign", json={"round_id": round_id}, headers=ADMIN)
        assert answer.status_code == status, answer.text
        assert (
            answer.json().get("field", "") == "body.round_id"
            or answer.json()["errors"][0]["field"] == "body.round_id"
        )
    open_round = await builders.scoring_round(scoring_client, mine)
    assigned = await builders.step(
        scoring_client, made, "assign", made.owner.province_officer, {"round_id": open_round["id"]}
    )
    assert (assigned["status"], assigned["round_id"], assigned["council_id"], assigned["level"]) == (
        "in_round", open_round["id"], mine.id, "province",
    )  # fmt: skip


async def test_a_dossier_whose_round_closed_moves_to_another(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Once its round is closed, scoring refuses to start there and the dossier may be reassigned."""
    made = await builders.dossier(registry_client, scoring_client, db)
    await builders.eligible(scoring_client, made)
    council = await builders.council(scoring_client, province_code=made.owner.unit.province_code)
    first = await builders.scoring_round(scoring_client, council)
    await builders.step(scoring_client, made, "assign", council.manager, {"round_id": first["id"]})
    again = await scoring_client.post(
        f"{made.url}/assign", json={"round_id": first["id"]}, headers=council.manager
    )
    assert (again.status_code, again.json()["current_state"]) == (409, "in_round")
    await scoring_client.post(f"/v1/rounds/{first['id']}/close", headers=council.manager)
    refused = await scoring_client.post(f"{made.url}/start-scoring", headers=council.manager)
    assert (refused.status_code, refused.json()["type"]) == (409, "/problems/round-closed")
    second = await builders.scoring_round(scoring_client, council)
    moved = await builders.step(scoring_client, made, "assign", council.manager, {"round_id": second["id"]})
    assert (moved["status"], moved["round_id"]) == ("in_round", second["id"])
    started = await builders.step(scoring_client, made, "start-scoring", council.manager)
    assert (started["status"], started["scoring_pass"]) == ("scoring", 1)


async def test_a_pass_needs_a_chair(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """A council without a chair cannot open a scoring pass."""
    made = await builders.dossier(registry_client, scoring_client, db)
    await builders.eligible(scoring_client, made)
    manager = made.owner.province_officer
    body = {
        "name": "Hội đồng chưa có chủ tịch",
        "level": "province",
        "province_code": made.owner.unit.province_code,
    }
    council = (await scoring_client.post("/v1/councils", json=body, headers=manager)).json()
    member = {"sub": "uy-vien", "full_name": "Uỷ viên", "role": "member"}
    await scoring_client.post(f"/v1/councils/{council['id']}/members", json=member, headers=manager)
    round_ = (await scoring_client.post(
        "/v1/rounds", json={"council_id": council["id"], "name": "Đợt 1", "cut_off": "2026-12-30"}, headers=manager
    )).json()  # fmt: skip
    await builders.step(scoring_client, made, "assign", manager, {"round_id": round_["id"]})
    answer = await scoring_client.post(f"{made.url}/start-scoring", headers=manager)
    assert (answer.status_code, answer.json()["type"]) == (409, "/problems/council-not-ready")


async def test_attachments_are_stored_once_and_served_as_downloads(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """The same file twice is one attachment; the bytes come back as a download of their own type."""
    made = await builders.dossier(registry_client, scoring_client, db)
    files = {"file": ("Giấy kiểm nghiệm.pdf", PDF, "application/pdf")}
    first = await scoring_client.post(
        f"{made.url}/attachments", data={"kind": "lab_test"}, files=files, headers=made.owner.headers
    )
    assert first.status_code == 201, first.text
    again = await scoring_client.post(
        f"{made.url}/attachments", data={"kind": "lab_test"}, files=files, headers=made.owner.headers
    )
    assert again.json()["id"] == first.json()["id"]
    attached = first.json()
    assert (attached["sha256"], attached["size"], attached["content_type"], attached["filename"]) == (
        hashlib.sha256(PDF).hexdigest(), len(PDF), "application/pdf", "Giấy kiểm nghiệm.pdf",
    )  # fmt: skip
    listed = (await scoring_client.get(f"{made.url}/attachments", headers=made.owner.commune_officer)).json()
    assert [item["id"] for item in listed] == [attached["id"]]
    served = await scoring_client.get(attached["url"], headers=made.owner.headers)
    assert (served.status_code, served.content, served.headers["content-type"]) == (
        200,
        PDF,
        "application/pdf",
    )
    assert served.headers["content-disposition"].startswith("attachment;")
    assert served.headers["x-content-type-options"] == "nosniff"
    missing = await scoring_client.get(f"{made.url}/attachments/{'0' * 64}", headers=made.owner.headers)
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("content", "kind", "status", "field"),
    [
        (b"<html><script>alert(1)</script></html>", "label", 415, "file"),
        (b"", "label", 415, "file"),
        (PDF, "passport", 422, "body.kind"),
    ],
)
async def test_bad_attachments_are_refused(
    registry_client: httpx.AsyncClient,
    scoring_client: httpx.AsyncClient,
    db: asyncpg.Connection,
    content: bytes,
    kind: str,
    status: int,
    field: str,
) -> None:
    """Only PDF and images, of a known kind; each refusal names its field."""
    made = await builders.dossier(registry_client, scoring_client, db)
    answer = await scoring_client.post(
        f"{made.url}/attachments",
        data={"kind": kind},
        files={"file": ("x", content, "text/html")},
        headers=made.owner.headers,
    )
    assert answer.status_code == status, answer.text
    problem = answer.json()
    assert problem.get("field") == field or field in {error["field"] for error in problem.get("errors", [])}


async def test_attachments_over_10_mib_are_refused(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """A file over the limit is a 413 and nothing is stored."""
    made = await builders.dossier(registry_client, scoring_client, db)
    big = PDF + b"0" * (10 * 1024 * 1024)
    answer = await scoring_client.post(
        f"{made.url}/attachments", data={"kind": "other"}, files={"file": ("big.pdf", big, "application/pdf")},
        headers=made.owner.headers,
    )  # fmt: skip
    assert answer.status_code == 413, answer.text
    assert (await scoring_client.get(f"{made.url}/attachments", headers=made.owner.headers)).json() == []


async def test_a_submitted_dossier_takes_no_attachments(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Attachments change only while the dossier is a draft or returned."""
    made = await builders.dossier(registry_client, scoring_client, db)
    await builders.submitted(scoring_client, made)
    answer = await scoring_client.post(
        f"{made.url}/attachments", data={"kind": "label"}, files={"file": ("nhan.pdf", PDF, "application/pdf")},
        headers=made.owner.headers,
    )  # fmt: skip
    assert (answer.status_code, answer.json()["current_state"]) == (409, "submitted")
