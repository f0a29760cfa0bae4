"""/epcis/capture and /epcis/events: GS1's examples captured and stored, idempotency by eventID, all or
nothing, every kind of bad input in EPCIS's problem shape, and who may capture what."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import jsonschema
import pytest
from sqlalchemy import text

from services.stamps.config import EpcisSettings
from services.stamps.epcis import identifiers, runner
from services.stamps.epcis.runner import CaptureRunner
from services.stamps.epcis.stamp_events import MovedStamp, events_for_change
from shared import clock, gs1
from tests.builders import ADMIN, SCORING, active_stamps, gln, location, stamped_product
from tests.conftest import asgi_client, auth, stamps_app
from tests.support.database import TestDatabase

pytestmark = pytest.mark.commits  # the app's own pools and the capture runner commit
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "epcis"
EXAMPLES = sorted(path.name for path in (FIXTURES / "examples").glob("*.jsonld") if "Query" not in path.name)
CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
JSON_LD = {"Content-Type": "application/ld+json"}
MAX_BYTES = 64 * 1024


@pytest.fixture(scope="module")
def gs1_schema() -> Any:
    """GS1's EPCIS 2.0 JSON Schema as copied into the fixtures (with its licence), checked by the reference validator."""
    schema = json.loads((FIXTURES / "EPCIS-JSON-Schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


@pytest.fixture
async def stamps(database: TestDatabase) -> AsyncIterator[httpx.AsyncClient]:
    """The stamps service in-process on the test's database; the tests drive the capture runner."""
    app = stamps_app(
        database, max_batch=5_000, epcis=EpcisSettings(max_document_bytes=MAX_BYTES, max_events=200)
    )
    async for client in asgi_client(app):
        yield client


async def query(stamps: httpx.AsyncClient, sql: str, **parameters: Any) -> list[Any]:
    """Rows read from the service's own database."""
    app = stamps._transport.app  # type: ignore[attr-defined]
    async with app.state.db.sessionmaker() as session:
        return list((await session.execute(text(sql), parameters)).all())


async def run_jobs(stamps: httpx.AsyncClient) -> int:
    """Run the capture runner once, as the service process does after a capture."""
    app = stamps._transport.app  # type: ignore[attr-defined]
    return await CaptureRunner(lambda: app.state.db, app.state.settings.epcis, every_s=1).run_once()


async def event_count(stamps: httpx.AsyncClient) -> int:
    return int((await query(stamps, "SELECT count(*) AS n FROM stamps.epcis_event"))[0].n)


def example(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((FIXTURES / "examples" / name).read_text(encoding="utf-8"))
    return document


def object_event(epcs: list[str], **fields: Any) -> dict[str, Any]:
    """An ObjectEvent observing ``epcs`` an hour ago in Vietnam."""
    moment = clock.now() - timedelta(hours=1)
    return {
        "type": "ObjectEvent", "eventTime": moment.isoformat(), "eventTimeZoneOffset": "+07:00",
        "action": "OBSERVE", "epcList": epcs, "bizStep": "shipping", "disposition": "in_transit", **fields,
    }  # fmt: skip


def document(*events: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return {
        "@context": context or [CONTEXT], "type": "EPCISDocument", "schemaVersion": "2.0",
        "creationDate": clock.now().isoformat(), "epcisBody": {"eventList": list(events)},
    }  # fmt: skip


def link(product: dict[str, Any], serial: str = "7K3Q9M2XH4TB8VNCF9") -> str:
    return f"https://id.gs1.org/01/{product['gtin'].zfill(14)}/21/{serial}"


async def capture(
    stamps: httpx.AsyncClient, body: Any, headers: dict[str, str], status: int = 202, **extra: str
) -> dict[str, Any]:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer = await stamps.post("/epcis/capture", content=content, headers={**headers, **JSON_LD, **extra})
    assert answer.status_code == status, answer.text
    result: dict[str, Any] = answer.json()
    if status == 202:
        assert answer.headers["Location"] == f"/epcis/capture/{result['captureID']}"
    else:
        assert answer.headers["content-type"] == "application/problem+json"
    return result


async def job(stamps: httpx.AsyncClient, capture_id: str, headers: dict[str, str]) -> dict[str, Any]:
    answer = await stamps.get(f"/epcis/capture/{capture_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


# GS1's examples


@pytest.mark.parametrize("name", EXAMPLES)
async def test_each_gs1_example_is_captured_and_stored_verbatim(
    stamps: httpx.AsyncClient, name: str, gs1_schema: Any
) -> None:
    original = example(name)
    accepted = await capture(stamps, original, ADMIN)
    assert accepted["running"] is True
    assert await run_jobs(stamps) == 1
    finished = await job(stamps, accepted["captureID"], ADMIN)
    assert (finished["running"], finished["success"]) == (False, True), finished
    events = original["epcisBody"]["eventList"]
    assert finished["eventCount"] == len(events)
    rows = await query(stamps, "SELECT event_id, type, doc FROM stamps.epcis_event ORDER BY event_time, id")
    assert len(rows) == len(events)
    stored = {row.event_id: row.doc for row in rows}
    for doc in stored.values():  # what is stored (with an assigned eventID, the document's context) is valid
        gs1_schema.validate(document(doc, context=original["@context"]))
    for event in events:
        event_id = event.get("eventID")
        if event_id is not None:
            doc = dict(stored[event_id])
            doc.pop("@context", None)
            assert doc == event  # verbatim
    # every EPC and quantity class of the examples is in the link table, canonical
    expected = set()
    for event in events:
        for key in ("epcList", "childEPCs", "inputEPCList", "outputEPCList"):
            expected |= {identifiers.canonical(epc) for epc in event.get(key, [])}
        if "parentID" in event:
            expected.add(identifiers.canonical(event["parentID"]))
        for key in ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"):
            expected |= {identifiers.canonical(q["epcClass"]) for q in event.get(key, [])}
    linked = {row.epc for row in await query(stamps, "SELECT epc FROM stamps.epcis_event_epc")}
    assert linked == expected


async def test_urn_and_digital_link_of_one_item_match_one_canonical_epc(stamps: httpx.AsyncClient) -> None:
    urn_event = object_event(
        ["urn:epc:id:sgtin:0614141.712345.2018"], eventID="urn:uuid:" + str(uuid.uuid4())
    )
    dl_event = object_event(["https://example.org/products/01/70614141123451/21/2018"])
    await capture(stamps, document(urn_event, dl_event), ADMIN)
    await run_jobs(stamps)
    rows = await query(stamps, "SELECT DISTINCT epc FROM stamps.epcis_event_epc")
    assert [row.epc for row in rows] == ["/01/70614141123451/21/2018"]


# Idempotency and all or nothing


async def test_the_same_event_id_twice_is_stored_once(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    event = object_event([link(product)], eventID="urn:uuid:" + str(uuid.uuid4()))
    first = await stamps.post("/epcis/events", json=event, headers=product["producer"])
    assert first.status_code == 201, first.text
    assert first.headers["Location"] == f"/epcis/events/{quote(event['eventID'], safe='')}"
    assert first.json() == {"eventID": event["eventID"], "stored": True}
    again = await stamps.post("/epcis/events", json=event, headers=product["producer"])
    assert again.status_code == 201
    assert again.json()["stored"] is False
    await capture(stamps, document(event), ADMIN)
    await run_jobs(stamps)
    assert await event_count(stamps) == 1


async def test_an_event_without_id_gets_one_from_its_content(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    event = object_event([link(product)])
    first = (await stamps.post("/epcis/events", json=event, headers=product["producer"])).json()
    second = (await stamps.post("/epcis/events", json=event, headers=product["producer"])).json()
    assert first["eventID"].startswith("urn:uuid:")
    assert first["eventID"] == second["eventID"]
    assert (first["stored"], second["stored"]) == (True, False)
    rows = await query(stamps, "SELECT doc FROM stamps.epcis_event")
    assert rows[0].doc["eventID"] == first["eventID"]


async def test_one_bad_event_writes_nothing_by_default(stamps: httpx.AsyncClient) -> None:
    good = object_event(["urn:epc:id:sgtin:0614141.107346.2018"])
    bad = object_event(["urn:epc:id:sgtin:0614141.107346.2019"], bizStep="shippping")
    problem = await capture(stamps, document(good, bad), ADMIN, status=400)
    assert problem["type"] == "epcisException:ValidationException"
    assert problem["errors"][0]["field"] == "/epcisBody/eventList/1/bizStep"
    assert await event_count(stamps) == 0
    assert (await query(stamps, "SELECT count(*) AS n FROM stamps.epcis_capture_job"))[0].n == 0


async def test_proceed_stores_the_valid_events_and_lists_the_others(stamps: httpx.AsyncClient) -> None:
    good = object_event(["urn:epc:id:sgtin:0614141.107346.2018"])
    bad = object_event(["urn:epc:id:sgtin:0614141.107346.2019"], bizStep="shippping")
    accepted = await capture(stamps, document(good, bad), ADMIN, **{"GS1-Capture-Error-Behaviour": "proceed"})
    await run_jobs(stamps)
    finished = await job(stamps, accepted["captureID"], ADMIN)
    assert (finished["running"], finished["success"], finished["eventCount"]) == (False, False, 1)
    assert finished["errors"][0]["field"] == "/epcisBody/eventList/1/bizStep"
    assert finished["captureErrorBehaviour"] == "proceed"
    assert await event_count(stamps) == 1


# Bad input


async def test_one_pass_stores_many_documents_each_on_its_own_terms(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    shared_id = "urn:uuid:" + str(uuid.uuid4())
    first = await capture(
        stamps, document(object_event(["urn:epc:id:sgtin:0614141.107346.1"], eventID=shared_id),
                         object_event(["urn:epc:id:sgtin:0614141.107346.2"])), ADMIN,
    )  # fmt: skip
    proceed = await capture(
        stamps,
        document(object_event(["urn:epc:id:sgtin:0614141.107346.3"]),
                 object_event(["urn:epc:id:sgtin:0614141.107346.4"], bizStep="shippping")),
        ADMIN, **{"GS1-Capture-Error-Behaviour": "proceed"},
    )  # fmt: skip
    again = await capture(
        stamps, document(object_event(["urn:epc:id:sgtin:0614141.107346.5"], eventID=shared_id),
                         object_event(["urn:epc:id:sgtin:0614141.107346.6"])), ADMIN,
    )  # fmt: skip
    own = await capture(stamps, document(object_event([link(product)])), product["producer"])
    assert await run_jobs(stamps) == 4
    found = {
        name: await job(stamps, accepted["captureID"], headers)
        for name, accepted, headers in (
            ("first", first, ADMIN), ("proceed", proceed, ADMIN), ("again", again, ADMIN),
            ("own", own, product["producer"]),
        )
    }  # fmt: skip
    assert {name: (j["running"], j["success"], j["eventCount"]) for name, j in found.items()} == {
        "first": (False, True, 2), "proceed": (False, False, 1), "again": (False, True, 1), "own": (False, True, 1),
    }  # fmt: skip
    assert {e["field"] for e in found["proceed"]["errors"]} == {"/epcisBody/eventList/1/bizStep"}
    rows = await query(stamps, "SELECT event_id, capture_job_id, entity_id, doc FROM stamps.epcis_event")
    by_job: dict[str, set[str]] = {}
    for row in rows:
        by_job.setdefault(str(row.capture_job_id), set()).update(row.doc["epcList"])
    assert by_job == {
        first["captureID"]: {"urn:epc:id:sgtin:0614141.107346.1", "urn:epc:id:sgtin:0614141.107346.2"},
        proceed["captureID"]: {"urn:epc:id:sgtin:0614141.107346.3"},
        again["captureID"]: {"urn:epc:id:sgtin:0614141.107346.6"},
        own["captureID"]: {link(product)},
    }
    assert [str(row.entity_id) for row in rows if row.capture_job_id == uuid.UUID(own["captureID"])] == [
        product["entity_id"]
    ]
    assert await run_jobs(stamps) == 0


@pytest.mark.parametrize("pass_jobs", [1, 500])
async def test_jobs_another_runner_holds_are_skipped_not_waited_for(
    stamps: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, pass_jobs: int
) -> None:
    monkeypatch.setattr(runner, "PASS_JOBS", pass_jobs)  # a pass of one job still finds the free one
    held = await capture(stamps, document(object_event(["urn:epc:id:sgtin:0614141.107346.9"])), ADMIN)
    free = await capture(stamps, document(object_event(["urn:epc:id:sgtin:0614141.107346.10"])), ADMIN)
    app = stamps._transport.app  # type: ignore[attr-defined]
    async with app.state.db.sessionmaker.begin() as other_runner:  # holds the oldest job, as a pass does
        await other_runner.execute(
            text("SELECT id FROM stamps.epcis_capture_job WHERE id = :id FOR UPDATE"),
            {"id": held["captureID"]},
        )
        assert await run_jobs(stamps) == 1
        assert (await job(stamps, free["captureID"], ADMIN))["running"] is False
    assert (await job(stamps, held["captureID"], ADMIN))["running"] is True
    assert await run_jobs(stamps) == 1
    assert await event_count(stamps) == 2


async def test_a_job_that_cannot_be_processed_fails_alone(stamps: httpx.AsyncClient) -> None:
    before = await capture(stamps, document(object_event(["urn:epc:id:sgtin:0614141.107346.7"])), ADMIN)
    broken = uuid.uuid4()  # a job whose stored document lacks what the request checked (eventTime)
    app = stamps._transport.app  # type: ignore[attr-defined]
    async with app.state.db.sessionmaker.begin() as session:
        await session.execute(
            text(
                "INSERT INTO stamps.epcis_capture_job (id, status, error_behaviour, captured_by, captured_role,"
                " document, created_at) VALUES (:id, 'running', 'rollback', 'admin-1', 'admin', CAST(:doc AS jsonb),"
                " now())"
            ),
            {"id": broken, "doc": json.dumps(document({"type": "ObjectEvent", "action": "OBSERVE"}))},
        )
    after = await capture(stamps, document(object_event(["urn:epc:id:sgtin:0614141.107346.8"])), ADMIN)
    assert await run_jobs(stamps) == 3
    failed = await job(stamps, str(broken), ADMIN)
    assert (failed["running"], failed["success"], failed["eventCount"]) == (False, False, 0)
    assert failed["errors"] == [{"field": "", "message": "the capture failed: KeyError"}]
    for accepted in (before, after):
        assert (await job(stamps, accepted["captureID"], ADMIN))["eventCount"] == 1
    assert await event_count(stamps) == 2


async def test_invalid_json_is_400(stamps: httpx.AsyncClient) -> None:
    problem = await capture(stamps, b'{"type": "EPCISDocument", ', ADMIN, status=400)
    assert problem["type"] == "epcisException:ValidationException"
    answer = await stamps.post("/epcis/events", content=b"[1, 2", headers={**ADMIN, **JSON_LD})
    assert answer.status_code == 400
    assert answer.json()["type"] == "epcisException:ValidationException"


async def test_a_schema_violation_is_400_naming_it(stamps: httpx.AsyncClient) -> None:
    event = object_event(["urn:epc:id:sgtin:0614141.107346.2018"])
    del event["eventTimeZoneOffset"]
    problem = await capture(stamps, document(event), ADMIN, status=400)
    assert problem["errors"][0]["field"] == "/epcisBody/eventList/0"
    assert "eventTimeZoneOffset" in problem["errors"][0]["message"]
    no_body = await capture(stamps, {"type": "EPCISDocument"}, ADMIN, status=400)
    assert no_body["errors"][0]["field"] == "/epcisBody/eventList"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("bizStep", "shippping"),
        ("bizStep", "urn:epcglobal:cbv:bizstep:teleporting"),
        ("bizStep", "https://ref.gs1.org/cbv/BizStep-teleporting"),
        ("disposition", "urn:epcglobal:cbv:disp:lost_in_space"),
    ],
)
async def test_unknown_vocabulary_is_400(stamps: httpx.AsyncClient, field: str, value: str) -> None:
    event = object_event(["urn:epc:id:sgtin:0614141.107346.2018"], **{field: value})
    problem = await capture(stamps, document(event), ADMIN, status=400)
    assert problem["type"] == "epcisException:ValidationException"
    assert problem["errors"][0]["field"] == f"/epcisBody/eventList/0/{field}"
    assert "unknown vocabulary" in problem["errors"][0]["message"]


async def test_cbv_values_in_every_form_are_stored_as_one_word(
    stamps: httpx.AsyncClient, gs1_schema: Any
) -> None:
    events = [
        object_event(["urn:epc:id:sgtin:0614141.107346.1"], bizStep="shipping"),
        object_event(
            ["urn:epc:id:sgtin:0614141.107346.2"], bizStep="https://ref.gs1.org/cbv/BizStep-shipping"
        ),
        object_event(
            ["urn:epc:id:sgtin:0614141.107346.3"],
            bizStep="urn:epcglobal:cbv:bizstep:shipping",
            disposition="urn:epcglobal:cbv:disp:in_transit",
        ),
        object_event(["urn:epc:id:sgtin:0614141.107346.4"], bizStep="https://ns.example.com/steps/smoking"),
    ]
    await capture(stamps, document(*events), ADMIN)
    await run_jobs(stamps)
    rows = await query(
        stamps, "SELECT biz_step, disposition, doc FROM stamps.epcis_event ORDER BY doc->>'epcList'"
    )
    assert [row.biz_step for row in rows] == [
        "shipping",
        "shipping",
        "shipping",
        "https://ns.example.com/steps/smoking",
    ]
    assert rows[2].doc["bizStep"] == "shipping"
    assert rows[2].disposition == "in_transit"
    for row in rows:  # what is stored is still valid EPCIS 2.0
        gs1_schema.validate(document(row.doc))


async def test_an_oversize_document_is_413(stamps: httpx.AsyncClient) -> None:
    event = object_event(["urn:epc:id:sgtin:0614141.107346.2018"], ilmd={"ex:note": "x" * MAX_BYTES})
    problem = await capture(
        stamps, document(event, context=[CONTEXT, {"ex": "https://ex.example/"}]), ADMIN, 413
    )
    assert problem["type"] == "epcisException:CaptureLimitExceededException"
    answer = await stamps.post("/epcis/events", json=event, headers=ADMIN)
    assert answer.status_code == 413
    assert answer.headers["GS1-EPCIS-Capture-File-Size-Limit"] == str(MAX_BYTES)
    too_many = [object_event([f"urn:epc:id:sgtin:0614141.107346.{i}"]) for i in range(201)]
    problem = await capture(stamps, document(*too_many), ADMIN, 413)
    assert problem["max_events"] == 200
    assert await event_count(stamps) == 0


async def test_an_event_in_the_future_is_400(stamps: httpx.AsyncClient) -> None:
    later = (clock.now() + timedelta(hours=1)).isoformat()
    event = object_event(["urn:epc:id:sgtin:0614141.107346.2018"], eventTime=later)
    answer = await stamps.post("/epcis/events", json=event, headers=ADMIN)
    assert answer.status_code == 400, answer.text
    assert answer.json()["errors"][0]["field"] == "/epcisBody/eventList/0/eventTime"
    soon = (clock.now() + timedelta(minutes=2)).isoformat()  # within the tolerance for clocks ahead
    answer = await stamps.post("/epcis/events", json={**event, "eventTime": soon}, headers=ADMIN)
    assert answer.status_code == 201, answer.text


async def test_a_malformed_gs1_identifier_is_400(stamps: httpx.AsyncClient) -> None:
    event = object_event(["https://id.gs1.org/01/08934567000018/21/ABC"])  # wrong check digit
    answer = await stamps.post("/epcis/events", json=event, headers=ADMIN)
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "/epcisBody/eventList/0/epcList/0"


async def test_a_documents_malformed_identifiers_are_400_naming_each_and_nothing_is_stored(
    stamps: httpx.AsyncClient,
) -> None:
    good = object_event(["urn:epc:id:sgtin:0614141.107346.31"])
    short = object_event(["urn:epc:id:sgtin:0614141.107346.32", "urn:epc:id:sgtin:0614141.10734.33"])
    place = object_event(
        ["urn:epc:id:sgtin:0614141.107346.34"],
        readPoint={"id": "urn:epc:id:sgln:0614141.0077.0"}, bizLocation={"id": "urn:epc:id:sgln:0614141.0077.0"},
    )  # fmt: skip
    before = await event_count(stamps)
    problem = await capture(stamps, document(good, short, place), ADMIN, status=400)
    assert [error["field"] for error in problem["errors"]] == [
        "/epcisBody/eventList/1/epcList/1",
        "/epcisBody/eventList/2/readPoint/id",
        "/epcisBody/eventList/2/bizLocation/id",
    ]
    assert all("not a valid identifier" in error["message"] for error in problem["errors"])
    assert await run_jobs(stamps) == 0
    assert await event_count(stamps) == before


# Who may capture


async def test_a_producer_captures_about_its_own_products_only(stamps: httpx.AsyncClient) -> None:
    own = await stamped_product(stamps)
    other = await stamped_product(stamps)
    event = object_event([link(own), link(other, "Q8WZ3N5RJ2KD6HTMD5")])
    answer = await stamps.post("/epcis/events", json=event, headers=own["producer"])
    assert answer.status_code == 403, answer.text
    problem = answer.json()
    assert problem["type"] == "epcisException:SecurityException"
    assert problem["offending"] == [link(other, "Q8WZ3N5RJ2KD6HTMD5")]
    assert link(other, "Q8WZ3N5RJ2KD6HTMD5") in problem["detail"]
    refused = await capture(stamps, document(event), own["producer"], status=403)
    assert refused["offending"] == [link(other, "Q8WZ3N5RJ2KD6HTMD5")]
    unknown = object_event(["urn:epc:id:sgtin:0614141.107346.2018"])
    assert (await stamps.post("/epcis/events", json=unknown, headers=own["producer"])).status_code == 403
    mine = object_event([link(own)])
    assert (await stamps.post("/epcis/events", json=mine, headers=own["producer"])).status_code == 201
    rows = await query(stamps, "SELECT entity_id, province_code, origin FROM stamps.epcis_event")
    assert [(str(r.entity_id), r.province_code, r.origin) for r in rows] == [
        (own["entity_id"], "22", "capture")
    ]
    assert await event_count(stamps) == 1


async def test_a_producer_captures_at_its_own_sites_only(stamps: httpx.AsyncClient) -> None:
    own = await stamped_product(stamps)
    other = await stamped_product(stamps)
    site_gln = gln()
    site = await location(stamps, own["producer"], gln=site_gln, gln_company_prefix_length=7)
    shop = await location(stamps, own["producer"])  # no GLN: a platform URI
    elsewhere = await location(stamps, other["producer"])
    assert site["uri"].startswith("urn:epc:id:sgln:")
    for read_point, biz_location in (
        (site["uri"], shop["uri"]),
        (f"https://id.gs1.org/414/{site_gln}", None),  # the same site as a Digital Link
        (
            f"urn:epc:id:sgln:{site_gln[:7]}.{site_gln[7:12]}.DOCK2",
            shop["uri"].replace("https://tem.ocop.example.vn", "HTTPS://TEM.OCOP.EXAMPLE.VN"),
        ),  # a sub-location
    ):
        event = object_event([link(own)], readPoint={"id": read_point})
        if biz_location is not None:
            event["bizLocation"] = {"id": biz_location}
        answer = await stamps.post("/epcis/events", json=event, headers=own["producer"])
        assert answer.status_code == 201, (read_point, answer.text)
    for read_point in (elsewhere["uri"], "https://id.gs1.org/414/8931111000059"):
        event = object_event([link(own)], readPoint={"id": read_point}, bizLocation={"id": site["uri"]})
        answer = await stamps.post("/epcis/events", json=event, headers=own["producer"])
        assert answer.status_code == 403, answer.text
        assert answer.json()["offending"] == [identifiers.digital_link(identifiers.canonical(read_point))]
    foreign = object_event([link(other)], readPoint={"id": elsewhere["uri"]})
    assert (await stamps.post("/epcis/events", json=foreign, headers=ADMIN)).status_code == 201


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (ADMIN, 201),
        (SCORING, 201),
        ({}, 401),
        (auth("province_officer", "22"), 403),
        (auth("commune_officer", "07090"), 403),
        (auth("national"), 403),
        (auth("partner", "p-1"), 403),
        (auth("council_member", str(uuid.uuid4())), 403),
        (auth("producer"), 403),  # no entity claim: nothing
        (auth("producer", "not-a-uuid"), 403),
    ],
)
async def test_who_may_capture(stamps: httpx.AsyncClient, headers: dict[str, str], status: int) -> None:
    event = object_event(["urn:epc:id:sgtin:0614141.107346.2018"])
    answer = await stamps.post("/epcis/events", json=event, headers=headers)
    assert answer.status_code == status, answer.text
    answer = await stamps.post("/epcis/capture", json=document(event), headers=headers)
    assert answer.status_code == (202 if status == 201 else status), answer.text


async def test_capture_jobs_are_read_by_who_started_them(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    started = await capture(stamps, document(object_event([link(product)])), product["producer"])
    mine = await stamps.get("/epcis/capture", headers=product["producer"])
    assert [item["captureID"] for item in mine.json()["items"]] == [started["captureID"]]
    other = await stamped_product(stamps)
    assert (await stamps.get("/epcis/capture", headers=other["producer"])).json()["items"] == []
    assert (
        await stamps.get(f"/epcis/capture/{started['captureID']}", headers=other["producer"])
    ).status_code == 404
    assert (await stamps.get(f"/epcis/capture/{started['captureID']}", headers=ADMIN)).status_code == 200
    assert (await stamps.get(f"/epcis/capture/{started['captureID']}")).status_code == 401
    assert (await stamps.get("/epcis/capture")).status_code == 401
    assert (await stamps.get(f"/epcis/capture/{uuid.uuid4()}", headers=ADMIN)).status_code == 404
    later = await capture(
        stamps, document(object_event([link(product, "Q8WZ3N5RJ2KD6HTMD5")])), product["producer"]
    )
    first = (await stamps.get("/epcis/capture?limit=1", headers=product["producer"])).json()
    assert [item["captureID"] for item in first["items"]] == [later["captureID"]]  # newest first
    rest = await stamps.get(
        f"/epcis/capture?limit=1&cursor={first['next_cursor']}", headers=product["producer"]
    )
    assert [item["captureID"] for item in rest.json()["items"]] == [started["captureID"]]


async def test_a_capture_retried_with_its_idempotency_key_is_one_job(stamps: httpx.AsyncClient) -> None:
    body = document(object_event(["urn:epc:id:sgtin:0614141.107346.2018"]))
    key = {"Idempotency-Key": "capture-0001"}
    first = await capture(stamps, body, {**ADMIN, **key})
    second = await capture(stamps, body, {**ADMIN, **key})
    assert first["captureID"] == second["captureID"]
    assert (await query(stamps, "SELECT count(*) AS n FROM stamps.epcis_capture_job"))[0].n == 1


def test_examples_are_valid_for_gs1s_schema(gs1_schema: Any) -> None:
    for name in EXAMPLES:
        gs1_schema.validate(copy.deepcopy(example(name)))


# Events the stamp lifecycle generates (TRACEABILITY §4.4)


async def generated(stamps: httpx.AsyncClient) -> list[Any]:
    return await query(
        stamps,
        "SELECT e.event_id, e.action, e.biz_step, e.disposition, e.entity_id, e.province_code, e.origin, e.doc,"
        " (SELECT count(*) FROM stamps.epcis_event_epc x WHERE x.event_uuid = e.id) AS epcs"
        " FROM stamps.epcis_event e ORDER BY e.record_time, e.event_time, e.event_id",
    )


async def test_lifecycle_changes_record_their_epcis_events(
    stamps: httpx.AsyncClient, gs1_schema: Any
) -> None:
    product = await stamped_product(stamps)
    made = clock.today() - timedelta(days=3)
    batch, serials = await active_stamps(
        stamps, product, 6, lot="L2407A", production_date=made, expiry_date=made + timedelta(days=200)
    )
    [activation] = await generated(stamps)  # issuing emits nothing
    doc = activation.doc
    assert (doc["type"], doc["action"], doc["bizStep"], doc["disposition"]) == (
        "ObjectEvent", "ADD", "commissioning", "active",
    )  # fmt: skip
    gtin = product["gtin"].zfill(14)
    assert sorted(doc["epcList"]) == [f"https://tem.ocop.example.vn/01/{gtin}/21/{s}" for s in serials]
    assert doc["ilmd"] == {
        "cbvmda:lotNumber": "L2407A", "cbvmda:itemExpirationDate": (made + timedelta(days=200)).isoformat(),
        "ocop:productionDate": made.isoformat(),
    }  # fmt: skip
    assert doc["eventTimeZoneOffset"] == "+07:00"
    assert (str(activation.entity_id), activation.province_code, activation.origin) == (
        product["entity_id"], "22", "stamps",
    )  # fmt: skip
    assert activation.epcs == 6
    officer, producer = product["officer"], product["producer"]
    for action, who, chosen in (
        ("suspend", officer, serials[:2]), ("unsuspend", officer, serials[:1]), ("revoke", officer, serials[1:3]),
        ("void", producer, serials[3:4]),
    ):  # fmt: skip
        body: dict[str, Any] = {"serials": chosen}
        if action != "unsuspend":
            body["reason"] = "kiểm tra"
        answer = await stamps.post(f"/v1/stamps/{action}", json=body, headers=who)
        assert answer.status_code == 200, answer.text
    rows = await generated(stamps)
    shapes = [
        (r.action, r.biz_step, r.disposition, r.doc.get("persistentDisposition"), r.epcs) for r in rows[1:]
    ]
    assert shapes == [
        ("OBSERVE", "holding", "non_sellable_other", {"set": ["non_sellable_other"]}, 2),
        ("OBSERVE", None, "active", {"unset": ["non_sellable_other"]}, 1),
        ("OBSERVE", "holding", "recalled", {"set": ["recalled"]}, 2),
        ("DELETE", "decommissioning", "inactive", None, 1),
    ]
    for row in rows:
        gs1_schema.validate(document(row.doc))
    # the same events are what matching on a stamp finds, whichever form the query names it in
    urn_free = await query(
        stamps, "SELECT count(*) AS n FROM stamps.epcis_event_epc WHERE epc = :epc",
        epc=identifiers.canonical(f"HTTPS://TEM.OCOP.EXAMPLE.VN/01/{gtin}/21/{serials[1]}"),
    )  # fmt: skip
    assert urn_free[0].n == 3  # activated, suspended, revoked
    del batch


def test_a_large_change_is_one_event_per_ten_thousand_stamps(gs1_schema: Any) -> None:
    entity = uuid.uuid4()
    moved = [
        MovedStamp(serial, "8930000000019", "L1", None, None, entity, "22")
        for serial in gs1.new_serials(25_001)
    ]
    [owner] = events_for_change("revoke", moved, change_id=7, at=clock.now(), host="tem.ocop.example.vn")
    assert [len(event["epcList"]) for event in owner.events] == [10_000, 10_000, 5_001]
    assert len({event["eventID"] for event in owner.events}) == 3
    again = events_for_change("revoke", moved, change_id=7, at=clock.now(), host="tem.ocop.example.vn")
    assert [event["eventID"] for event in again[0].events] == [event["eventID"] for event in owner.events]
    gs1_schema.validate(document(*owner.events))
    assert events_for_change("issue", moved, change_id=7, at=clock.now(), host="h") == []
