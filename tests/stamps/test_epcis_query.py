"""GET /epcis/events: each query parameter, paging through the Link header, one event by id, the export,
the trace views, and who reads which events (every role)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import jsonschema
import pytest

from services.stamps.traceability import repository, service
from shared.security.principal import Principal, Role
from tests.builders import ADMIN, epcis_event, stamped_product, stored_epcis_events
from tests.conftest import auth

EVENTS = "/epcis/events"
SCHEMA = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "epcis" / "EPCIS-JSON-Schema.json").read_text()
)
VALIDATOR = jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
PRODUCER = uuid.UUID("6f1c2a4e-0d3b-4c55-9a51-7e0b1f2d3c41")
OTHER = uuid.UUID("0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b")
NOWHERE = "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a"


def conforming(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` after asserting it validates against GS1's EPCIS 2.0 JSON Schema."""
    errors = sorted(VALIDATOR.iter_errors(document), key=str)
    assert not errors, [e.message for e in errors[:5]]
    return document


async def ids(stamps: httpx.AsyncClient, query: str = "", headers: dict[str, str] = ADMIN) -> list[str]:
    """The eventIDs a query returns (all on one page), the document checked against the schema."""
    answer = await stamps.get(f"{EVENTS}?{query}", headers=headers)
    assert answer.status_code == 200, answer.text
    document = conforming(answer.json())
    assert document["type"] == "EPCISQueryDocument"
    return [event["eventID"] for event in document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]


@pytest.fixture
async def chain(stamps_client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """A unit commissioned, packed into a carton, the carton shipped and received, a lot observed, and an
    event of another producer in another province."""
    unit = f"https://id.gs1.org/01/08934567000017/21/{uuid.uuid4().hex[:12].upper()}"
    carton = "https://id.gs1.org/00/389345670000000018"
    made = epcis_event(
        eventTime="2026-11-01T07:00:00.000+07:00", action="ADD", epcList=[unit], bizStep="commissioning",
        disposition="active", readPoint={"id": "https://id.gs1.org/414/8934567000109"},
        bizLocation={"id": "https://id.gs1.org/414/8934567000109"},
    )  # fmt: skip
    packed = epcis_event(
        type="AggregationEvent", eventTime="2026-11-02T07:00:00.000+07:00", action="ADD", parentID=carton,
        childEPCs=[unit], bizStep="packing", disposition="in_progress",
    )  # fmt: skip
    del packed["epcList"]
    shipped = epcis_event(eventTime="2026-11-03T07:00:00.000+07:00", epcList=[carton])
    received = epcis_event(
        eventTime="2026-11-04T07:00:00.000+07:00", epcList=[carton], bizStep="https://ref.gs1.org/cbv/BizStep-receiving",
        disposition="sellable_accessible", readPoint={"id": "https://id.gs1.org/414/8931111000059"},
        bizLocation={"id": "urn:epc:id:sgln:8931111.00005.0"},
    )  # fmt: skip
    lot = epcis_event(
        eventTime="2026-11-05T07:00:00.000+07:00", epcList=[],
        quantityList=[{"epcClass": "https://id.gs1.org/01/08934567000017/10/L2407A", "quantity": 20}],
        bizStep="inspecting", disposition="conformant",
    )  # fmt: skip
    await stored_epcis_events(stamps_client, [made, packed, shipped, received, lot], entity_id=PRODUCER)
    elsewhere = epcis_event(eventTime="2026-11-06T07:00:00.000+07:00")
    await stored_epcis_events(stamps_client, [elsewhere], entity_id=OTHER, province_code="01")
    return {"made": made, "packed": packed, "shipped": shipped, "received": received, "lot": lot,
            "elsewhere": elsewhere, "unit": {"id": unit}, "carton": {"id": carton}}  # fmt: skip


def eid(*events: dict[str, Any]) -> list[str]:
    return [event["eventID"] for event in events]


async def test_every_event_in_time_order_as_stored(
    stamps_client: httpx.AsyncClient, chain: dict[str, Any]
) -> None:
    answer = await stamps_client.get(EVENTS, headers=ADMIN)
    assert answer.headers["GS1-EPCIS-Version"] == "2.0.0"
    assert answer.headers["GS1-CBV-Version"] == "2.0.0"
    events = conforming(answer.json())["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [e["eventID"] for e in events] == eid(
        chain["made"], chain["packed"], chain["shipped"], chain["received"], chain["lot"], chain["elsewhere"]
    )
    # Served from doc: the stored JSON, plus the repository's recordTime; the stored bizStep spelling kept.
    assert {k: v for k, v in events[3].items() if k != "recordTime"} == chain["received"]
    assert events[3]["bizStep"] == "https://ref.gs1.org/cbv/BizStep-receiving"
    assert events[0]["recordTime"].endswith("Z")


async def test_event_type_action_and_times(stamps_client: httpx.AsyncClient, chain: dict[str, Any]) -> None:
    assert await ids(stamps_client, "eventType=AggregationEvent") == eid(chain["packed"])
    assert await ids(stamps_client, "eventType=AggregationEvent|ObjectEvent&EQ_action=ADD") == eid(
        chain["made"], chain["packed"]
    )
    window = "GE_eventTime=2026-11-02T07:00:00%2B07:00&LT_eventTime=2026-11-04T00:00:00Z"
    assert await ids(stamps_client, window) == eid(chain["packed"], chain["shipped"])
    assert await ids(stamps_client, "GE_recordTime=2000-01-01T00:00:00Z&perPage=1") == eid(chain["made"])
    assert await ids(stamps_client, "GE_recordTime=2999-01-01T00:00:00Z") == []


async def test_vocabulary_in_any_spelling(stamps_client: httpx.AsyncClient, chain: dict[str, Any]) -> None:
    for spelling in (
        "receiving",
        "https://ref.gs1.org/cbv/BizStep-receiving",
        "urn:epcglobal:cbv:bizstep:receiving",
    ):
        assert await ids(stamps_client, f"EQ_bizStep={quote(spelling, safe='')}") == eid(chain["received"])
    assert await ids(stamps_client, "EQ_bizStep=commissioning|packing") == eid(chain["made"], chain["packed"])
    assert await ids(stamps_client, "EQ_disposition=urn%3Aepcglobal%3Acbv%3Adisp%3Aconformant") == eid(
        chain["lot"]
    )


async def test_locations_in_any_spelling(stamps_client: httpx.AsyncClient, chain: dict[str, Any]) -> None:
    # Stored as a Digital Link, asked as the SGLN URN (company prefix 8931111): the same location.
    assert await ids(stamps_client, "EQ_readPoint=urn%3Aepc%3Aid%3Asgln%3A8931111.00005.0") == eid(
        chain["received"]
    )
    # Stored as the SGLN URN, asked as a Digital Link.
    assert await ids(stamps_client, "EQ_bizLocation=https%3A%2F%2Fid.gs1.org%2F414%2F8931111000059") == eid(
        chain["received"]
    )
    assert await ids(stamps_client, "EQ_bizLocation=https%3A%2F%2Fid.gs1.org%2F414%2F8934567000109") == eid(
        chain["made"]
    )


async def test_identifier_matches(stamps_client: httpx.AsyncClient, chain: dict[str, Any]) -> None:
    unit = quote(chain["unit"]["id"], safe="")
    # MATCH_epc: epcList and childEPCs; the URN spelling (prefix 8934567, GTIN 08934567000017) matches too.
    assert await ids(stamps_client, f"MATCH_epc={unit}") == eid(chain["made"], chain["packed"])
    serial = chain["unit"]["id"].rsplit("/", 1)[1]
    urn = quote(f"urn:epc:id:sgtin:8934567.000001.{serial}", safe="")
    assert await ids(stamps_client, f"MATCH_epc={urn}") == eid(chain["made"], chain["packed"])
    # Our own resolver's host: any host's Digital Link is the same object.
    ours = quote(chain["unit"]["id"].replace("id.gs1.org", "tem.ocop.example.vn"), safe="")
    assert await ids(stamps_client, f"MATCH_epc={ours}") == eid(chain["made"], chain["packed"])
    carton = quote(chain["carton"]["id"], safe="")
    assert await ids(stamps_client, f"MATCH_epc={carton}") == eid(chain["shipped"], chain["received"])
    assert await ids(stamps_client, f"MATCH_anyEPC={carton}") == eid(
        chain["packed"], chain["shipped"], chain["received"]
    )
    lot = quote("urn:epc:class:lgtin:8934567.000001.L2407A", safe="")
    assert await ids(stamps_client, f"MATCH_epcClass={lot}") == eid(chain["lot"])
    assert await ids(stamps_client, f"MATCH_epc={lot}") == []


async def test_paging_follows_the_link_header(
    stamps_client: httpx.AsyncClient, chain: dict[str, Any]
) -> None:
    seen: list[str] = []
    url: str | None = f"{EVENTS}?perPage=2&EQ_action=ADD|OBSERVE"
    pages = 0
    while url is not None:
        answer = await stamps_client.get(url, headers=ADMIN)
        assert answer.status_code == 200, answer.text
        events = conforming(answer.json())["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        assert len(events) <= 2
        seen += [e["eventID"] for e in events]
        pages += 1
        link = answer.headers.get("Link")
        if link is None:
            url = None
        else:
            assert link.endswith('>; rel="next"')
            assert "EQ_action=ADD" in link
            assert "nextPageToken=" in link
            url = link[1 : link.index(">")]
    assert pages == 3
    assert seen == eid(chain["made"], chain["packed"], chain["shipped"], chain["received"], chain["lot"],
                       chain["elsewhere"])  # fmt: skip


@pytest.mark.parametrize(
    "query",
    [
        "EQ_colour=red",
        "eventType=SensorEvent",
        "EQ_action=REMOVE",
        "GE_eventTime=yesterday",
        "GE_eventTime=2026-11-01T00:00:00",
        "perPage=0",
        "perPage=1001",
        "perPage=ten",
        "nextPageToken=forged",
        "MATCH_epc=not-a-uri",
        "EQ_bizStep=",
        "EQ_bizStep=shipping&EQ_bizStep=receiving",
        "MATCH_epc=a:b||c:d",
        "EQ_bizStep=assemble",
        "MATCH_epc=https%3A%2F%2Fid.gs1.org%2F01%2F08934567000018%2F21%2FX",
    ],
)
async def test_bad_parameters_are_query_parameter_exceptions(
    stamps_client: httpx.AsyncClient, query: str
) -> None:
    answer = await stamps_client.get(f"{EVENTS}?{query}", headers=ADMIN)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"] == "epcisException:QueryParameterException"
    assert problem["errors"][0]["field"] == f"query.{query.split('=')[0]}"


async def test_one_event_by_its_encoded_id(stamps_client: httpx.AsyncClient) -> None:
    hashed = "ni:///sha-256;df7bb3c352fef055578554f09f5e2aa41782150ced7bd0b8af24dd3ccb30ba69?ver=CBV2.0"
    event = epcis_event(eventID=hashed)
    await stored_epcis_events(stamps_client, [event], entity_id=PRODUCER)
    answer = await stamps_client.get(f"{EVENTS}/{quote(hashed, safe='')}", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    served = conforming(answer.json())
    assert served["@context"] == ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
    assert {k: v for k, v in served.items() if k not in ("@context", "recordTime")} == event
    missing = await stamps_client.get(
        f"{EVENTS}/{quote('urn:uuid:' + str(uuid.uuid4()), safe='')}", headers=ADMIN
    )
    assert missing.status_code == 404
    assert missing.json()["type"] == "epcisException:NoSuchResourceException"


# Who reads what: producers their own, officers their province's, national and admins all, others nothing.

READERS = [
    (ADMIN, {"made", "packed", "shipped", "received", "lot", "elsewhere"}),
    (auth("national", "bo-nnptnt"), {"made", "packed", "shipped", "received", "lot", "elsewhere"}),
    (auth("producer", str(PRODUCER)), {"made", "packed", "shipped", "received", "lot"}),
    (auth("producer", str(OTHER)), {"elsewhere"}),
    (auth("province_officer", "22"), {"made", "packed", "shipped", "received", "lot"}),
    (auth("province_officer", "01"), {"elsewhere"}),
    (auth("province_officer", "48"), set()),
    (auth("producer", "not-a-uuid"), set()),
    (auth("producer"), set()),
    (auth("province_officer", "Quảng Ninh"), set()),
    (auth("commune_officer", "07090"), set()),
    (auth("council_member", NOWHERE), set()),
    (auth("partner", "bank"), set()),
    (auth("service", "registry"), set()),
]


@pytest.mark.parametrize(("headers", "visible"), READERS)
async def test_who_reads_which_events(
    stamps_client: httpx.AsyncClient, chain: dict[str, Any], headers: dict[str, str], visible: set[str]
) -> None:
    assert set(await ids(stamps_client, headers=headers)) == {chain[name]["eventID"] for name in visible}
    for name, event in chain.items():
        if "eventID" not in event:
            continue
        one = await stamps_client.get(f"{EVENTS}/{quote(event['eventID'], safe='')}", headers=headers)
        assert one.status_code == (200 if name in visible else 404), (name, one.text)


async def test_anonymous_callers_are_refused(stamps_client: httpx.AsyncClient, chain: dict[str, Any]) -> None:
    for url in (EVENTS, f"{EVENTS}/{quote(chain['made']['eventID'], safe='')}", "/epcis/export?province_code=22",
                "/v1/trace?gtin=08934567000017&lot=L2407A"):  # fmt: skip
        assert (await stamps_client.get(url)).status_code == 401, url


# The export


async def test_a_province_exported_as_one_document(
    stamps_client: httpx.AsyncClient, chain: dict[str, Any]
) -> None:
    answer = await stamps_client.get("/epcis/export?province_code=22", headers=auth("province_officer", "22"))
    assert answer.status_code == 200, answer.text
    document = conforming(answer.json())
    assert document["type"] == "EPCISDocument"
    assert [e["eventID"] for e in document["epcisBody"]["eventList"]] == eid(
        chain["made"], chain["packed"], chain["shipped"], chain["received"], chain["lot"]
    )
    period = (
        "province_code=22&GE_eventTime=2026-11-02T00:00:00%2B07:00&LT_eventTime=2026-11-04T00:00:00%2B07:00"
    )
    answer = await stamps_client.get(f"/epcis/export?{period}", headers=ADMIN)
    assert [e["eventID"] for e in conforming(answer.json())["epcisBody"]["eventList"]] == eid(
        chain["packed"], chain["shipped"]
    )
    # Another province's officer exports the province and finds none of its events.
    answer = await stamps_client.get("/epcis/export?province_code=22", headers=auth("province_officer", "01"))
    assert conforming(answer.json())["epcisBody"]["eventList"] == []


async def test_the_export_is_written_a_fetch_at_a_time(
    stamps_client: httpx.AsyncClient, chain: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The document goes out as its head, one chunk per fetch of the server-side cursor, and its tail."""
    monkeypatch.setattr(repository, "FETCH_ROWS", 2)
    app = stamps_client._transport.app  # type: ignore[attr-defined]
    async with app.state.db.sessionmaker() as session:
        chunks = [
            chunk
            async for chunk in await service.export_events(
                session, principal=Principal(sub="t", role=Role.admin), params=[("province_code", "22")],
                database=app.state.db,
            )
        ]  # fmt: skip
    assert len(chunks) == 1 + 3 + 1  # five events of province 22, two a fetch
    assert chunks[0].endswith(b'"epcisBody":{"eventList":[')
    assert chunks[-1] == b"]}}"
    document = conforming(json.loads(b"".join(chunks)))
    assert [e["eventID"] for e in document["epcisBody"]["eventList"]] == eid(
        chain["made"], chain["packed"], chain["shipped"], chain["received"], chain["lot"]
    )


@pytest.mark.parametrize(
    "query", ["", "province_code=22&product_id=" + NOWHERE, "province_code=Q", "product_id=x",
              "province_code=22&GE_eventTime=soon", "province_code=22&colour=red"],
)  # fmt: skip
async def test_export_parameters(stamps_client: httpx.AsyncClient, query: str) -> None:
    answer = await stamps_client.get(f"/epcis/export?{query}", headers=ADMIN)
    assert answer.status_code == 400, answer.text
    assert answer.json()["type"] == "epcisException:QueryParameterException"


async def test_unknown_product_export_is_404(stamps_client: httpx.AsyncClient) -> None:
    answer = await stamps_client.get(f"/epcis/export?product_id={uuid.uuid4()}", headers=ADMIN)
    assert answer.status_code == 404


async def test_a_products_events_exported(stamps_client: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps_client)
    gtin = product["gtin"].zfill(14)
    unit = epcis_event(epcList=[f"https://tem.ocop.example.vn/01/{gtin}/21/7K3Q9M2XH4TB8VNCF9"])
    lot = epcis_event(
        eventTime="2026-11-21T08:00:00.000+07:00",  # after the unit's (ordered by eventTime)
        epcList=[],
        quantityList=[{"epcClass": f"https://id.gs1.org/01/{gtin}/10/L1", "quantity": 3}],
    )
    other = epcis_event()  # another GTIN
    entity = product["entity_id"]
    await stored_epcis_events(stamps_client, [unit, lot, other], entity_id=entity)
    url = f"/epcis/export?product_id={product['id']}"
    for headers in (product["producer"], product["officer"], ADMIN):
        answer = await stamps_client.get(url, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-disposition"] == 'attachment; filename="epcis.json"'
        assert [e["eventID"] for e in conforming(answer.json())["epcisBody"]["eventList"]] == eid(unit, lot)
    # Another producer, an officer of another province: the product does not exist for them.
    for headers in (
        auth("producer", str(OTHER)),
        auth("province_officer", "01"),
        auth("commune_officer", "07090"),
    ):
        assert (await stamps_client.get(url, headers=headers)).status_code == 404


# The trace of a lot (authenticated, the caller's events)


async def test_lot_trace(stamps_client: httpx.AsyncClient, chain: dict[str, Any]) -> None:
    answer = await stamps_client.get(
        "/v1/trace?gtin=8934567000017&lot=L2407A", headers=auth("producer", str(PRODUCER))
    )
    assert answer.status_code == 200, answer.text
    trace = answer.json()
    assert trace["gtin"] == "08934567000017"
    assert trace["lot"] == "L2407A"
    assert [(s["biz_step"], s["summary_en"]) for s in trace["steps"]] == [("inspecting", "Inspected")]
    hidden = await stamps_client.get(
        "/v1/trace?gtin=8934567000017&lot=L2407A", headers=auth("producer", str(OTHER))
    )
    assert hidden.json()["steps"] == []
    bad = await stamps_client.get("/v1/trace?gtin=8934567000018&lot=L2407A", headers=ADMIN)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.gtin"
