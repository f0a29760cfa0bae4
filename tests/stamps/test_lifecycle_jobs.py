"""Whole-batch lifecycle changes as background jobs (202 + Location, GET /v1/stamp-changes/{id}), resumed
exactly once after a stop; activation at one of the producer's sites (the commissioning events' readPoint and
bizLocation)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jsonschema
import pytest

from services.stamps.lifecycle import service
from services.stamps.lifecycle.runner import ChangeJobs
from tests.builders import ADMIN, generated_batch, location, serials_of, stamped_product
from tests.conftest import asgi_client, auth, stamps_app
from tests.stamps import test_epcis_capture as capture
from tests.stamps.test_lifecycle import act, query, states
from tests.support.database import TestDatabase

pytestmark = pytest.mark.commits  # the app's own pools and the jobs commit
CHANGES = "/v1/stamp-changes"


@pytest.fixture
async def jobs_stamps(database: TestDatabase) -> AsyncIterator[httpx.AsyncClient]:
    """The stamps service changing a batch of more than 3 stamps in the background, 2 stamps a chunk."""
    async for client in asgi_client(
        stamps_app(database, max_batch=5_000, lifecycle_sync_max=3, lifecycle_chunk=2)
    ):
        yield client


@pytest.fixture(scope="module")
def gs1_schema() -> Any:
    """GS1's EPCIS 2.0 JSON Schema (the fixture test_epcis_capture validates with)."""
    schema = json.loads((capture.FIXTURES / "EPCIS-JSON-Schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def job(stamps: httpx.AsyncClient) -> ChangeJobs:
    """A lifecycle job as a (re)started process runs it, on the service's database and settings."""
    app = stamps._transport.app  # type: ignore[attr-defined]
    settings = app.state.settings
    return ChangeJobs(
        lambda: app.state.db, every_s=1, chunk=settings.lifecycle_chunk, resolver_host=settings.resolver_host
    )


async def queue(
    stamps: httpx.AsyncClient, action: str, headers: dict[str, str], **body: Any
) -> tuple[str, dict[str, Any]]:
    """POST a whole-batch change that is queued: its Location and answer."""
    if action in ("suspend", "revoke", "void"):
        body.setdefault("reason", "Kiểm tra lô")
    answer = await stamps.post(f"/v1/stamps/{action}", json=body, headers=headers)
    assert answer.status_code == 202, answer.text
    return answer.headers["location"], answer.json()


async def read(stamps: httpx.AsyncClient, url: str, headers: dict[str, str] = ADMIN) -> dict[str, Any]:
    answer = await stamps.get(url, headers=headers)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def counts(change: dict[str, Any]) -> tuple[Any, ...]:
    progress = change["progress"]
    return (
        change["status"], progress["done"], progress["total"], change["changed"], change["unchanged"],
        change["skipped"], change["by_state"],
    )  # fmt: skip


async def test_a_large_batch_is_changed_by_the_job_with_its_progress(jobs_stamps: httpx.AsyncClient) -> None:
    stamps = jobs_stamps
    product = await stamped_product(stamps)
    batch = await generated_batch(stamps, product, quantity=5)
    serials = await serials_of(stamps, batch)
    await act(stamps, "void", product["producer"], serials=serials[:1])
    # A small batch (at most lifecycle_sync_max stamps) and a list are still changed at once.
    small = await generated_batch(stamps, product, quantity=3)
    assert (await act(stamps, "issue", product["officer"], batch_id=small["id"]))["changed"] == 3

    url, queued = await queue(stamps, "issue", product["officer"], batch_id=batch["id"])
    assert url == f"{CHANGES}/{queued['id']}"
    assert counts(queued) == ("queued", 0, 5, 0, 0, 0, {})
    assert (queued["action"], queued["batch_id"], queued["actor_role"], queued["started_at"]) == (
        "issue", batch["id"], "province_officer", None,
    )  # fmt: skip
    assert await read(stamps, url) == queued
    assert set((await states(stamps, serials)).values()) == {"void", "reserved"}
    # Asked again while it is pending: the same change; with an Idempotency-Key: the same answer replayed.
    again, same = await queue(stamps, "issue", product["officer"], batch_id=batch["id"])
    assert (again, same["id"]) == (url, queued["id"])
    keyed = {"Idempotency-Key": "whole-batch-issue-1", **product["officer"]}
    first = await stamps.post("/v1/stamps/issue", json={"batch_id": batch["id"]}, headers=keyed)
    replayed = await stamps.post("/v1/stamps/issue", json={"batch_id": batch["id"]}, headers=keyed)
    assert (first.status_code, replayed.status_code) == (202, 202)
    assert (replayed.json(), replayed.headers["location"]) == (first.json(), url)
    assert replayed.headers["idempotent-replayed"] == "true"
    # Another change of the batch waits for this one to end.
    busy = await act(stamps, "void", product["producer"], 409, batch_id=batch["id"])
    assert (busy["type"], busy["change_id"], busy["field"]) == (
        "/problems/stamp-change-pending", queued["id"], "body.batch_id",
    )  # fmt: skip

    assert await job(stamps).run_once() == 3  # 2 + 2 + 1 stamps
    done = await read(stamps, url, product["producer"])
    assert counts(done) == ("done", 5, 5, 4, 0, 1, {"reserved": 4, "void": 1})
    assert None not in (done["started_at"], done["finished_at"])
    assert done["progress"]["eta_s"] == 0.0
    assert await states(stamps, serials) == {**dict.fromkeys(serials, "issued"), serials[0]: "void"}
    items = await query(
        stamps, "SELECT serial, from_state, to_state FROM stamps.stamp_change_item WHERE change_id = :c",
        c=queued["id"],
    )  # fmt: skip
    assert sorted((i.serial, i.from_state, i.to_state) for i in items) == [
        (s, "reserved", "issued") for s in serials[1:]
    ]
    assert await job(stamps).run_once() == 0
    # Done: asking again queues a new change that moves nothing.
    url2, requeued = await queue(stamps, "issue", product["officer"], batch_id=batch["id"])
    assert url2 != url
    await job(stamps).run_once()
    assert counts(await read(stamps, url2)) == ("done", 5, 5, 0, 4, 1, {"issued": 4, "void": 1})
    # A change made in its request reads the same way.
    listed = await act(stamps, "void", product["producer"], serials=serials[1:2])
    made_now = await read(stamps, f"{CHANGES}/{listed['change_id']}")
    assert counts(made_now) == ("done", 1, 1, 1, 0, 0, {"issued": 1})
    del requeued


async def test_a_job_stopped_after_a_chunk_resumes_and_moves_each_stamp_once(
    jobs_stamps: httpx.AsyncClient, gs1_schema: Any
) -> None:
    stamps = jobs_stamps
    product = await stamped_product(stamps)
    batch = await generated_batch(stamps, product, quantity=5, lot="L7")
    serials = await serials_of(stamps, batch)
    await queue(stamps, "issue", product["officer"], batch_id=batch["id"])
    await job(stamps).run_once()
    url, queued = await queue(stamps, "activate", product["producer"], batch_id=batch["id"])

    # The process stops after its first chunk committed.
    assert await job(stamps).run_change(queued["id"], chunks=1) == 1
    running = await read(stamps, url, product["officer"])
    assert counts(running) == ("running", 2, 5, 2, 0, 0, {"issued": 2})
    assert running["progress"]["rate_per_s"] is not None
    assert sorted((await states(stamps, serials)).values()) == ["active"] * 2 + ["issued"] * 3
    # A restarted process goes on from there.
    assert await job(stamps).run_once() == 2
    assert counts(await read(stamps, url)) == ("done", 5, 5, 5, 0, 0, {"issued": 5})
    assert set((await states(stamps, serials)).values()) == {"active"}
    per_stamp = await query(
        stamps, "SELECT serial, count(*) AS n FROM stamps.stamp_change_item WHERE change_id = :c GROUP BY serial",
        c=queued["id"],
    )  # fmt: skip
    assert sorted((row.serial, row.n) for row in per_stamp) == [(s, 1) for s in serials]
    events = await query(
        stamps,
        "SELECT e.doc FROM stamps.epcis_event e WHERE e.biz_step = 'commissioning' ORDER BY e.event_id",
    )
    assert len(events) == 3
    epcs = sorted(epc.rsplit("/", 1)[1] for row in events for epc in row.doc["epcList"])
    assert epcs == serials
    for row in events:
        assert row.doc["ilmd"]["cbvmda:lotNumber"] == "L7"
        gs1_schema.validate(capture.document(row.doc))


async def test_activation_names_one_of_the_producers_sites(
    jobs_stamps: httpx.AsyncClient, gs1_schema: Any
) -> None:
    stamps = jobs_stamps
    product = await stamped_product(stamps)
    other = await stamped_product(stamps)
    site = await location(stamps, product["producer"])
    theirs = await location(stamps, other["producer"])
    small = await generated_batch(stamps, product, quantity=2)
    small_serials = await serials_of(stamps, small)
    await act(stamps, "issue", product["officer"], batch_id=small["id"])
    for body, status in (
        ({"serials": small_serials, "location_id": theirs["id"]}, 404),
        ({"batch_id": small["id"], "location_id": str(uuid.uuid4())}, 404),
    ):
        refused = await act(stamps, "activate", product["producer"], status, **body)
        assert (refused["type"], refused["field"]) == ("/problems/location-not-found", "body.location_id")
    # An admin may not name another producer's site either.
    refused = await act(stamps, "activate", ADMIN, 404, batch_id=small["id"], location_id=theirs["id"])
    assert refused["field"] == "body.location_id"
    extra = await act(stamps, "issue", ADMIN, 422, batch_id=small["id"], location_id=site["id"])
    assert extra["errors"][0]["field"] == "body.location_id"
    assert set((await states(stamps, small_serials)).values()) == {"issued"}

    done = await act(stamps, "activate", product["producer"], serials=small_serials, location_id=site["id"])
    assert done["changed"] == 2
    # And in the background: every chunk's events carry the site.
    batch = await generated_batch(stamps, product, quantity=4)
    await queue(stamps, "issue", product["officer"], batch_id=batch["id"])
    await job(stamps).run_once()
    url, queued = await queue(
        stamps, "activate", product["producer"], batch_id=batch["id"], location_id=site["id"]
    )
    assert queued["location_id"] == site["id"]
    await job(stamps).run_once()
    assert (await read(stamps, url))["changed"] == 4
    events = await query(stamps, "SELECT e.doc FROM stamps.epcis_event e WHERE e.biz_step = 'commissioning'")
    assert len(events) == 3  # the list's, then two chunks of two
    for row in events:
        assert (row.doc["readPoint"], row.doc["bizLocation"]) == ({"id": site["uri"]}, {"id": site["uri"]})
        gs1_schema.validate(capture.document(row.doc))
    places = await query(stamps, "SELECT DISTINCT biz_location, read_point FROM stamps.epcis_event")
    assert [(row.biz_location, row.read_point) for row in places] == [(site["uri"], site["uri"])]


async def test_who_reads_a_change(jobs_stamps: httpx.AsyncClient) -> None:
    stamps = jobs_stamps
    product = await stamped_product(stamps)
    other = await stamped_product(stamps, province="01")
    batch = await generated_batch(stamps, product, quantity=4)
    strangers = {
        "another producer": other["producer"], "another province's officer": other["officer"],
        "a commune officer": auth("commune_officer", "22001"), "a partner": auth("partner", "p"),
        "national": auth("national", "vn"), "a council member": auth("council_member", str(uuid.uuid4())),
        "a service": auth("service", "registry"), "a producer without a scope": auth("producer"),
        "an officer without a scope": auth("province_officer"),
    }  # fmt: skip
    for who, headers in strangers.items():
        refused = await stamps.post("/v1/stamps/issue", json={"batch_id": batch["id"]}, headers=headers)
        assert refused.status_code == 404, (who, refused.text)
    assert await query(stamps, "SELECT id FROM stamps.stamp_change") == []
    url, _ = await queue(stamps, "issue", product["officer"], batch_id=batch["id"])
    for headers, expected in [
        ({}, 401), (product["producer"], 200), (product["officer"], 200), (ADMIN, 200),
        *((h, 404) for h in strangers.values()),
    ]:  # fmt: skip
        answer = await stamps.get(url, headers=headers)
        assert answer.status_code == expected, (headers, answer.text)
        if expected == 404:
            assert (answer.json()["type"], answer.json()["field"]) == (
                "/problems/stamp-change-not-found", "path.change_id",
            )  # fmt: skip
    assert (await stamps.get(f"{CHANGES}/987654321", headers=ADMIN)).status_code == 404
    for bad in ("0", "abc", str(2**63)):
        answer = await stamps.get(f"{CHANGES}/{bad}", headers=ADMIN)
        assert (answer.status_code, answer.json()["errors"][0]["field"]) == (422, "path.change_id"), bad
    # A list spanning two producers' batches belongs to neither: admins read it.
    await job(stamps).run_once()
    _, ours = batch, await serials_of(stamps, batch)
    theirs_batch = await generated_batch(stamps, other, quantity=1)
    [theirs] = await serials_of(stamps, theirs_batch)
    await act(stamps, "issue", ADMIN, serials=[theirs])
    both = await act(stamps, "void", ADMIN, serials=[ours[0], theirs])
    spanning = f"{CHANGES}/{both['change_id']}"
    assert (await stamps.get(spanning, headers=ADMIN)).status_code == 200
    for headers in (product["producer"], product["officer"], other["producer"], other["officer"]):
        assert (await stamps.get(spanning, headers=headers)).status_code == 404


async def test_a_failed_change_says_why_and_asking_again_goes_on(jobs_stamps: httpx.AsyncClient) -> None:
    stamps = jobs_stamps
    product = await stamped_product(stamps)
    batch = await generated_batch(stamps, product, quantity=5)
    url, queued = await queue(stamps, "issue", product["officer"], batch_id=batch["id"])
    await job(stamps).run_change(queued["id"], chunks=1)
    app = stamps._transport.app  # type: ignore[attr-defined]
    async with app.state.db.sessionmaker.begin() as session:  # what the job does when a chunk raises
        await service.fail_change(
            session, change_id=queued["id"], message="OperationalError: the server closed"
        )
    failed = await read(stamps, url)
    assert (failed["status"], failed["error"], failed["changed"]) == (
        "failed", "OperationalError: the server closed", 2,
    )  # fmt: skip
    assert failed["finished_at"] is not None
    assert await job(stamps).run_once() == 0  # a failed change is not resumed by itself
    url2, _ = await queue(stamps, "issue", product["officer"], batch_id=batch["id"])
    assert url2 != url
    await job(stamps).run_once()
    assert counts(await read(stamps, url2)) == ("done", 5, 5, 3, 2, 0, {"issued": 2, "reserved": 3})
    assert set((await states(stamps, await serials_of(stamps, batch))).values()) == {"issued"}
