"""/v1/stamp-batches: who requests, approves and reads batches; only certified products get stamps; generation."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.builders import ADMIN, post_event, stamped_product
from tests.conftest import auth

pytestmark = pytest.mark.commits  # the app's own pools and the generation job commit
BATCHES = "/v1/stamp-batches"


async def request(
    stamps: httpx.AsyncClient, product: dict[str, Any], quantity: int = 1_200, **body: Any
) -> httpx.Response:
    return await stamps.post(
        BATCHES, json={"product_id": product["id"], "quantity": quantity, **body}, headers=product["producer"]
    )


async def test_a_producer_requests_an_officer_approves_and_the_stamps_are_generated(
    stamps: httpx.AsyncClient,
) -> None:
    product = await stamped_product(stamps)
    requested = await request(stamps, product, lot="L2407A")
    assert requested.status_code == 201, requested.text
    batch = requested.json()
    assert (batch["status"], batch["quantity"], batch["lot"], batch["province_code"]) == (
        "requested",
        1_200,
        "L2407A",
        "22",
    )
    assert batch["gtin"] == product["gtin"].zfill(14)
    assert batch["progress"] == {"done": 0, "total": 1_200, "rate_per_s": None, "eta_s": None}
    assert requested.headers["location"] == f"{BATCHES}/{batch['id']}"
    approved = await stamps.post(f"{BATCHES}/{batch['id']}/approve", headers=product["officer"])
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["decided_by"]) == ("approved", "tester")
    jobs = stamps._transport.app.state.batch_jobs  # type: ignore[attr-defined]
    assert jobs is None  # batch_job_every_s=0: the test drives the job
    from services.stamps.batches.runner import BatchJobs
    from shared.db import asyncpg_dsn

    app = stamps._transport.app  # type: ignore[attr-defined]
    runner = BatchJobs(
        lambda: app.state.db, asyncpg_dsn(app.state.settings.database_url.get_secret_value()), every_s=1
    )
    assert await runner.run_once() == 1_200
    done = (await stamps.get(f"{BATCHES}/{batch['id']}", headers=product["producer"])).json()
    assert done["status"] == "generated"
    assert (done["progress"]["done"], done["progress"]["total"], done["progress"]["eta_s"]) == (
        1_200,
        1_200,
        0.0,
    )
    assert done["progress"]["rate_per_s"] > 0
    assert await runner.run_once() == 0
    again = await stamps.post(f"{BATCHES}/{batch['id']}/approve", headers=product["officer"])
    assert (again.status_code, again.json()["current_status"]) == (409, "generated")


async def test_only_a_product_with_a_certificate_in_force_gets_stamps(stamps: httpx.AsyncClient) -> None:
    for status, accepted in (
        ("active", True),
        ("expiring", True),
        ("expired", False),
        ("revoked", False),
        ("", False),
    ):
        product = await stamped_product(stamps, status=status)
        answer = await request(stamps, product, quantity=10)
        assert (answer.status_code == 201) is accepted, (status, answer.text)
        if not accepted:
            assert (answer.status_code, answer.json()["type"]) == (409, "/problems/product-not-certified"), (
                status
            )
    no_gtin = await stamped_product(stamps)
    await post_event(stamps, "registry.product.updated",
                     {**{k: v for k, v in no_gtin.items() if k not in ("producer", "officer", "certificate")},
                      "gtin": None, "version": no_gtin["version"] + 1}, subject=f"product/{no_gtin['id']}")  # fmt: skip
    refused = await request(stamps, no_gtin, quantity=10)
    assert (refused.status_code, refused.json()["type"]) == (409, "/problems/product-has-no-gtin")


async def test_bad_requests_name_their_field(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    for body, field in (
        ({"quantity": 0}, "quantity"), ({"quantity": 5_001}, "quantity"), ({"quantity": True}, "quantity"),
        ({"lot": "lô 1"}, "lot"), ({"lot": "L" * 21}, "lot"), ({"quantity": 10, "extra": 1}, "extra"),
    ):  # fmt: skip
        answer = await stamps.post(BATCHES, json={"product_id": product["id"], "quantity": 10, **body},
                                   headers=product["producer"])  # fmt: skip
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert any(field in error["field"] for error in answer.json()["errors"]), (body, answer.json())
    unknown = await stamps.post(
        BATCHES, json={"product_id": str(uuid.uuid4()), "quantity": 1}, headers=product["producer"]
    )
    assert (unknown.status_code, unknown.json()["field"]) == (404, "body.product_id")


async def test_who_may_request_decide_and_read(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    other = await stamped_product(stamps, province="01")
    body = {"product_id": product["id"], "quantity": 5}
    for headers, expected in [
        ({}, 401), (other["producer"], 404), (auth("province_officer", "01"), 404), (auth("council_member", "x"), 404),
        (auth("partner", "p"), 404), (auth("national", "vn"), 404), (auth("service", "registry"), 404),
        (product["officer"], 403), (auth("commune_officer", "07090"), 403), (auth("commune_officer", "07091"), 404),
    ]:  # fmt: skip
        assert (await stamps.post(BATCHES, json=body, headers=headers)).status_code == expected, headers
    batch = (await request(stamps, product, quantity=5)).json()
    url = f"{BATCHES}/{batch['id']}"
    for headers, expected in [
        ({}, 401), (other["producer"], 404), (other["officer"], 404), (auth("partner", "p"), 404),
        (product["producer"], 200), (product["officer"], 200), (ADMIN, 200),
    ]:  # fmt: skip
        assert (await stamps.get(url, headers=headers)).status_code == expected, headers
    listed = (await stamps.get(BATCHES, headers=other["producer"])).json()
    assert batch["id"] not in [item["id"] for item in listed["items"]]
    assert [
        item["id"] for item in (await stamps.get(BATCHES, headers=product["producer"])).json()["items"]
    ] == [batch["id"]]
    for headers, expected in [({}, 401), (product["producer"], 403), (other["officer"], 404)]:
        assert (await stamps.post(f"{url}/approve", headers=headers)).status_code == expected, headers
        assert (
            await stamps.post(f"{url}/reject", json={"reason": "Sai lô"}, headers=headers)
        ).status_code == expected
    rejected = await stamps.post(
        f"{url}/reject", json={"reason": "Số lượng vượt nhu cầu"}, headers=product["officer"]
    )
    assert (rejected.json()["status"], rejected.json()["decision_reason"]) == (
        "rejected",
        "Số lượng vượt nhu cầu",
    )
    assert (await stamps.post(f"{url}/approve", headers=ADMIN)).status_code == 409


async def test_a_retried_request_makes_one_batch(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    headers = {**product["producer"], "Idempotency-Key": "stamp-batch-0001"}
    body = {"product_id": product["id"], "quantity": 7}
    answers = [await stamps.post(BATCHES, json=body, headers=headers) for _ in range(2)]
    assert [answer.status_code for answer in answers] == [201, 201]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    listed = (
        await stamps.get(BATCHES, headers=product["producer"], params={"product_id": product["id"]})
    ).json()
    assert len(listed["items"]) == 1
