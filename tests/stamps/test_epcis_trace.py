"""The trace view of a stamp (public JSON and the verification page's timeline) over generated and captured events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from services.stamps.config import StampsSettings
from services.stamps.main import create_app
from services.stamps.traceability.schemas import TracePlace, TraceStep
from services.stamps.traceability.service import summary
from services.stamps.verification.pages import render_verdict
from shared import gs1
from tests.builders import active_stamps, epcis_event, stamped_product, stored_epcis_events
from tests.conftest import asgi_client, in_process_events, test_jwks
from tests.stamps.test_verification_pages import SERIAL, URI, scenario
from tests.support.database import TestDatabase

CARTON = "https://id.gs1.org/00/389345670000000018"


@pytest.fixture
async def committing_stamps(database: TestDatabase) -> AsyncIterator[httpx.AsyncClient]:
    """The stamps service in-process on the test's database, its lifespan ended with the test."""
    settings = StampsSettings(
        database_url=database.urls["stamps"], environment="test", jwt_public_keys=test_jwks(),
        events=in_process_events("stamps"), batch_job_every_s=0, anomaly_job_every_s=0, epcis_job_every_s=0,
    )  # fmt: skip
    async for client in asgi_client(create_app(settings)):
        yield client


@pytest.mark.commits  # the generation job commits
async def test_a_stamps_journey_is_public_and_on_its_page(committing_stamps: httpx.AsyncClient) -> None:
    stamps_client = committing_stamps
    product = await stamped_product(stamps_client)
    _, (serial, other) = await active_stamps(stamps_client, product, quantity=2, lot="L2611A")
    unit = f"https://tem.ocop.example.vn/01/{product['gtin']}/21/{serial}"
    packed = epcis_event(
        type="AggregationEvent", eventTime="2026-11-21T09:00:00.000+07:00", action="ADD", parentID=CARTON,
        childEPCs=[unit], bizStep="packing", disposition="in_progress",
        readPoint={"id": "https://id.gs1.org/414/8934567000109"},
    )  # fmt: skip
    del packed["epcList"]
    shipped = epcis_event(eventTime="2026-11-22T06:30:00.000+07:00", epcList=[CARTON])
    received = epcis_event(
        eventTime="2026-11-23T14:05:00.000+07:00", epcList=[CARTON], bizStep="receiving",
        disposition="sellable_accessible", bizLocation={"id": "https://id.gs1.org/414/8931111000059"},
    )  # fmt: skip
    # Another stamp's event is not on this stamp's journey.
    elsewhere = epcis_event(
        epcList=[f"https://id.gs1.org/01/{product['gtin']}/21/{other}"], bizStep="inspecting"
    )
    entity = product["entity_id"]
    await stored_epcis_events(stamps_client, [received, shipped, packed, elsewhere], entity_id=entity)

    answer = await stamps_client.get(f"/v1/stamps/{serial}/trace")  # no token: a consumer's phone
    assert answer.status_code == 200, answer.text
    trace = answer.json()
    assert trace["serial"] == serial
    assert trace["lot"] == "L2611A"
    captured = [step for step in trace["steps"] if step["biz_step"] != "commissioning"]
    assert [(s["biz_step"], s["summary_en"]) for s in captured] == [
        ("packing", "Packed"), ("shipping", "Shipped"), ("receiving", "Received"),
    ]  # fmt: skip
    assert captured[2]["place"]["uri"] == "/414/8931111000059"  # the canonical form (any spelling captured)
    assert entity not in answer.text
    assert "entity_id" not in answer.text

    page = await stamps_client.get(
        gs1.digital_link(product["gtin"], serial).path(), headers={"accept": "text/html"}
    )
    assert page.status_code == 200, page.text
    assert "Hành trình sản phẩm" in page.text
    assert "Đóng gói" in page.text
    assert "The product&#x27;s journey" in page.text
    assert page.text.index("Packed") < page.text.index("Shipped") < page.text.index("Received")
    # The JSON answer of the same link has no journey (the hot path reads no events).
    plain = await stamps_client.get(
        gs1.digital_link(product["gtin"], serial).path(), headers={"accept": "application/json"}
    )
    assert "Packed" not in plain.text


@pytest.mark.parametrize("serial", ["7K3Q9M2XH4TB8VNCF8", "short", "7k3q9m2xh4tb8vncf9"])
async def test_a_bad_or_unknown_serial(stamps_client: httpx.AsyncClient, serial: str) -> None:
    answer = await stamps_client.get(f"/v1/stamps/{serial}/trace")
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "serial"


async def test_an_unknown_stamp_has_no_trace(stamps_client: httpx.AsyncClient) -> None:
    serial = gs1.new_serial()
    answer = await stamps_client.get(f"/v1/stamps/{serial}/trace")
    assert answer.status_code == 404


def test_summaries_name_the_place_when_known() -> None:
    shop = TracePlace(uri="urn:epc:id:sgln:8931111.00005.0", name="Cửa hàng OCOP Bãi Cháy", commune=None,
                      province="Tỉnh Quảng Ninh")  # fmt: skip
    assert summary("receiving", shop) == (
        "Được nhận tại Cửa hàng OCOP Bãi Cháy, Tỉnh Quảng Ninh",
        "Received at Cửa hàng OCOP Bãi Cháy, Tỉnh Quảng Ninh",
    )
    assert summary("shipping", shop)[1] == "Shipped from Cửa hàng OCOP Bãi Cháy, Tỉnh Quảng Ninh"
    assert summary("repairing", None) == ("repairing", "repairing")
    assert summary(None, None) == ("Sự kiện", "Event")


def test_the_page_timeline_is_escaped_short_and_only_with_the_product() -> None:
    steps = [
        TraceStep(
            event_time=datetime(2026, 11, day, 20, 0, tzinfo=UTC), biz_step="packing", disposition=None,
            action="ADD", event_type="ObjectEvent", place=None, summary_vi=f"Đóng gói <b>{day}", summary_en="Packed",
        )
        for day in range(1, 13)
    ]  # fmt: skip
    verdict, facts, history = scenario("genuine")
    page = render_verdict(
        verdict=verdict, facts=facts, history=history, serial=SERIAL, lang="vi", uri=URI, switch_href="?lang=en",
        trace=steps,
    )  # fmt: skip
    assert "Đóng gói &lt;b&gt;1<" in page
    assert "Đóng gói &lt;b&gt;8<" in page
    assert "Đóng gói &lt;b&gt;9<" not in page  # the first eight steps; the rest are in the JSON trace
    # 20:00 UTC on 1 November is 2 November in Vietnam.
    assert "<time>02/11/2026</time>" in page
    verdict, facts, history = scenario("unknown")
    unknown = render_verdict(
        verdict=verdict, facts=facts, history=history, serial=SERIAL, lang="vi", uri=URI, switch_href="?lang=en",
        trace=steps,
    )  # fmt: skip
    assert "Đóng gói" not in unknown
