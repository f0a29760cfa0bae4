"""Conformance: every document and event the query side returns validates against GS1's EPCIS 2.0 JSON Schema,
and each of GS1's example documents, captured, reads back the same (compared after what may legally differ)."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import jsonschema
import pytest

from services.stamps.config import StampsSettings
from services.stamps.epcis import identifiers
from services.stamps.epcis.runner import CaptureRunner
from services.stamps.main import create_app
from tests.builders import ADMIN
from tests.conftest import asgi_client, in_process_events, test_jwks
from tests.support.database import TestDatabase

pytestmark = pytest.mark.commits  # the capture runner commits
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "epcis"
# Capture takes EPCISDocuments; the query document example is checked as a document the schema accepts.
EXAMPLES = sorted(path.name for path in (FIXTURES / "examples").glob("*.jsonld") if "Query" not in path.name)
SCHEMA = json.loads((FIXTURES / "EPCIS-JSON-Schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
ID_LISTS = {"epcList", "childEPCs", "inputEPCList", "outputEPCList"}
QUANTITY_LISTS = {"quantityList", "childQuantityList"}


@pytest.fixture
async def stamps(database: TestDatabase) -> AsyncIterator[httpx.AsyncClient]:
    """The stamps service in-process on the test's database; the test drives the capture runner."""
    settings = StampsSettings(
        database_url=database.urls["stamps"], environment="test", jwt_public_keys=test_jwks(),
        events=in_process_events("stamps"), batch_job_every_s=0, anomaly_job_every_s=0, epcis_job_every_s=0,
    )  # fmt: skip
    async for client in asgi_client(create_app(settings)):
        yield client


def valid(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` after asserting GS1's schema accepts it."""
    errors = sorted(VALIDATOR.iter_errors(copy.deepcopy(document)), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]
    return document


def normalised(event: dict[str, Any], *, server_id: bool) -> str:
    """An event with what may legally differ taken out: key order, recordTime, the @context form (the
    document's or the event's own), and an eventID the repository assigned."""
    plain = {key: value for key, value in event.items() if key not in ("recordTime", "@context")}
    if server_id:
        plain.pop("eventID", None)
    return json.dumps(plain, sort_keys=True, ensure_ascii=False)


async def captured(stamps: httpx.AsyncClient, name: str) -> list[dict[str, Any]]:
    """GS1's example ``name`` captured as an admin and stored by the runner: its events."""
    original = json.loads((FIXTURES / "examples" / name).read_text(encoding="utf-8"))
    answer = await stamps.post(
        "/epcis/capture", content=json.dumps(original).encode(),
        headers={**ADMIN, "Content-Type": "application/ld+json"},
    )  # fmt: skip
    assert answer.status_code == 202, answer.text
    app = stamps._transport.app  # type: ignore[attr-defined]
    assert await CaptureRunner(lambda: app.state.db, app.state.settings.epcis, every_s=1).run_once() == 1
    job = (await stamps.get(answer.headers["Location"], headers=ADMIN)).json()
    assert job["success"] is True, job
    events: list[dict[str, Any]] = original["epcisBody"]["eventList"]
    return events


async def queried(stamps: httpx.AsyncClient, query: str = "") -> list[dict[str, Any]]:
    """Every event a query returns, following the Link header, each page checked against the schema."""
    url: str | None = f"/epcis/events?perPage=3{'&' + query if query else ''}"
    events: list[dict[str, Any]] = []
    while url is not None:
        answer = await stamps.get(url, headers=ADMIN)
        assert answer.status_code == 200, answer.text
        document = valid(answer.json())
        events += document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        link = answer.headers.get("Link")
        url = link[1 : link.index(">")] if link else None
    return events


def identifiers_named(event: dict[str, Any]) -> set[str]:
    """The canonical instance identifiers an event names in any role (what MATCH_anyEPC looks at)."""
    named = {identifiers.canonical(epc) for key in ID_LISTS for epc in event.get(key, [])}
    if "parentID" in event:
        named.add(identifiers.canonical(event["parentID"]))
    return named


@pytest.mark.parametrize("name", EXAMPLES)
async def test_each_gs1_example_reads_back_the_same(stamps: httpx.AsyncClient, name: str) -> None:
    originals = await captured(stamps, name)
    served = await queried(stamps)
    given_ids = {o["eventID"] for o in originals if "eventID" in o}
    # An event captured without an eventID is served with the one the repository gave it.
    assert sorted(normalised(e, server_id=e["eventID"] not in given_ids) for e in served) == sorted(
        normalised(o, server_id="eventID" not in o) for o in originals
    )
    # Each event on its own, by its (URL-encoded) eventID: a standalone event with its @context.
    for event in served:
        answer = await stamps.get(f"/epcis/events/{quote(event['eventID'], safe='')}", headers=ADMIN)
        assert answer.status_code == 200, answer.text
        alone = valid(answer.json())
        assert normalised(alone, server_id=False) == normalised(event, server_id=False)
    # Round trip of the identifier parameters: every identifier named finds exactly the events naming it.
    for identifier in set().union(*(identifiers_named(o) for o in originals)):
        expected = sorted(
            normalised(o, server_id=True) for o in originals if identifier in identifiers_named(o)
        )
        found = await queried(
            stamps,
            f"MATCH_anyEPC={quote(identifier if ':' in identifier else 'https://id.gs1.org' + identifier, safe='')}",
        )
        assert sorted(normalised(e, server_id=True) for e in found) == expected, identifier
    # And of the event types.
    for event_type in {o["type"] for o in originals}:
        found = await queried(stamps, f"eventType={event_type}")
        assert len(found) == sum(o["type"] == event_type for o in originals)


def test_the_query_document_example_is_what_the_schema_accepts() -> None:
    example = json.loads((FIXTURES / "examples" / "EPCISQueryDocument.jsonld").read_text(encoding="utf-8"))
    valid(example)
