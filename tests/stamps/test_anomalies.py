"""The anomaly detector over real scan rows (anomalies, stamp risk, events) and the /v1/anomalies review queue."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import psutil
import pytest
from sqlalchemy import TextClause, text

from services.stamps.anomalies import runner
from services.stamps.anomalies.repository import AnomalyRepository
from services.stamps.anomalies.runner import AnomalyDetector
from services.stamps.anomalies.service import DetectionRound, scanner_limit
from services.stamps.config import AnomalySettings, StampsSettings
from services.stamps.main import create_app
from services.stamps.verification import tokens
from shared import clock, gs1
from shared.children import ChildProcess
from shared.pressure import PressureGauge
from shared.topology import REPO_ROOT
from tests.builders import (
    ADMIN,
    active_stamps,
    epcis_event,
    generated_batch,
    location,
    logged_scans,
    serials_of,
    stamped_product,
    stored_epcis_events,
)
from tests.conftest import asgi_client, auth, in_process_events, test_jwks
from tests.support.database import TestDatabase

pytestmark = pytest.mark.commits  # the app's own pools, the generation job and the detector commit
ANOMALIES = "/v1/anomalies"
HA_NOI = {"latitude": 21.028, "longitude": 105.854, "accuracy_m": 25}
HO_CHI_MINH = {"latitude": 10.776, "longitude": 106.700, "accuracy_m": 25}
HA_LONG = {"latitude": 20.951, "longitude": 107.080, "accuracy_m": 25}


@pytest.fixture
async def stamps(database: TestDatabase) -> AsyncIterator[httpx.AsyncClient]:
    """The stamps service in-process on the test's database; jobs are driven by the test."""
    settings = StampsSettings(
        database_url=database.urls["stamps"], environment="test", jwt_public_keys=test_jwks(),
        events=in_process_events("stamps"), batch_job_every_s=0, anomaly_job_every_s=0,
    )  # fmt: skip
    async for client in asgi_client(create_app(settings)):
        yield client


def detector(stamps: httpx.AsyncClient, **settings: Any) -> AnomalyDetector:
    app = stamps._transport.app  # type: ignore[attr-defined]
    assert app.state.anomaly_detector is None  # anomaly_job_every_s=0: the test drives it
    anomalies = app.state.settings.anomalies.model_copy(update=settings)
    return AnomalyDetector(lambda: app.state.db, anomalies, every_s=1, since=clock.now() - timedelta(days=1))


async def rows(stamps: httpx.AsyncClient, sql: str, **params: Any) -> list[Any]:
    app = stamps._transport.app  # type: ignore[attr-defined]
    async with app.state.db.sessionmaker() as session:
        return list((await session.execute(text(sql), params)).all())


async def stamp_with_serials(
    stamps: httpx.AsyncClient, quantity: int = 10
) -> tuple[dict[str, Any], list[str]]:
    product = await stamped_product(stamps)  # Quảng Ninh (22)
    batch = await generated_batch(stamps, product, quantity=quantity)
    return {**product, "batch_id": batch["id"]}, await serials_of(stamps, batch)


def ago(minutes: float) -> datetime:
    return clock.now() - timedelta(minutes=minutes)


async def test_a_clone_scanned_in_ha_noi_and_tp_hcm_within_the_hour(stamps: httpx.AsyncClient) -> None:
    product, serials = await stamp_with_serials(stamps)
    serial, batch = serials[0], product["batch_id"]
    await logged_scans(
        stamps,
        {"serial": serial, "batch_id": batch, "scanned_at": ago(120), "device_hash": b"a", **HA_NOI},
        {"serial": serial, "batch_id": batch, "scanned_at": ago(70), "device_hash": b"b", **HO_CHI_MINH},
    )
    job = detector(stamps)
    found = await job.run_once()
    assert [(a["rule"], a["serial"]) for a in found.anomalies] == [("R8", serial), ("R5", serial)]
    travel = (await rows(stamps, "SELECT * FROM stamps.anomaly WHERE rule = 'R5'"))[0]
    assert (travel.score, travel.province_code, str(travel.batch_id), str(travel.entity_id)) == (
        75, "22", batch, product["entity_id"],
    )  # fmt: skip
    assert travel.detail["to_province"] == "79"
    assert travel.detail["distance_km"] > 1_100
    [risk] = await rows(stamps, "SELECT * FROM stamps.stamp_risk WHERE serial = :s", s=serial)
    assert (risk.risk_score, risk.rules, risk.impossible_travel) == (75, ["R5", "R8"], 1)
    events = await rows(stamps, "SELECT type, subject, data FROM stamps.outbox_event ORDER BY seq")
    detected = [e for e in events if e.type == "stamps.stamp.anomaly_detected"]
    assert sorted(e.data["rule"] for e in detected) == ["R5", "R8"]
    assert {e.subject for e in detected} == {f"anomaly/{a['id']}" for a in found.anomalies}
    assert found.to_suspend == []

    # Nothing is raised twice; a second impossible journey is counted and asks for suspension.
    assert (await job.run_once()).anomalies == []
    await logged_scans(
        stamps, {"serial": serial, "batch_id": batch, "scanned_at": ago(0.5), "device_hash": b"a", **HA_NOI}
    )
    again = await job.run_once()
    assert again.anomalies == []  # R5 and R8 of this serial are open within their windows
    assert again.to_suspend == [serial]
    [risk] = await rows(stamps, "SELECT * FROM stamps.stamp_risk WHERE serial = :s", s=serial)
    assert risk.impossible_travel == 2
    assert len(await rows(stamps, "SELECT 1 FROM stamps.anomaly")) == 2


async def test_repeated_impossible_travel_suspends_an_active_stamp_and_the_next_scan_shows_it(
    stamps: httpx.AsyncClient,
) -> None:
    product = await stamped_product(stamps)
    batch, serials = await active_stamps(stamps, product, quantity=2)
    serial = serials[0]
    await logged_scans(stamps, *({"serial": serial, "batch_id": batch["id"], "scanned_at": ago(m), **where}
                                 for m, where in ((30, HA_LONG), (20, HO_CHI_MINH), (10, HA_LONG))))  # fmt: skip
    found = await detector(stamps).run_once()
    assert (found.to_suspend, found.suspended) == ([serial], 1)
    states = await rows(
        stamps, "SELECT serial, state, state_reason FROM stamps.stamp WHERE batch_id = :b", b=batch["id"]
    )
    assert {row.serial: row.state for row in states} == {serial: "suspended", serials[1]: "active"}
    assert next(row.state_reason for row in states if row.serial == serial).startswith("R5")
    [change] = await rows(
        stamps, "SELECT actor, action, changed FROM stamps.stamp_change WHERE action = 'suspend'"
    )
    assert (change.actor, change.changed) == ("system:anomalies", 1)
    answer = await stamps.get(
        gs1.digital_link(product["gtin"], serial).path(), headers={"accept": "application/json"}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["outcome"], body["risk"]["band"]) == ("suspected", "suspected")
    assert "R5" in body["rules"]
    assert "stamp_suspended" in body["reasons"]


async def test_a_genuine_second_scan_by_the_same_device_raises_nothing(stamps: httpx.AsyncClient) -> None:
    product, serials = await stamp_with_serials(stamps)
    await logged_scans(
        stamps,
        *({"serial": serials[0], "batch_id": product["batch_id"], "scanned_at": ago(m), "device_hash": b"a",
           "ip_hash": b"home", **HA_LONG} for m in (30, 20)),
    )  # fmt: skip
    found = await detector(stamps).run_once()
    assert (len(found.examined), found.anomalies) == (2, [])
    # No risk, no row: verification reads none as 0, and a burst of genuine scans writes nothing here.
    assert await rows(stamps, "SELECT * FROM stamps.stamp_risk WHERE serial = :s", s=serials[0]) == []
    assert (
        await rows(stamps, "SELECT 1 FROM stamps.outbox_event WHERE type = 'stamps.stamp.anomaly_detected'")
        == []
    )


async def test_unknown_serials_clustering_in_a_province_and_an_enumerating_ip(
    stamps: httpx.AsyncClient,
) -> None:
    unknown = [
        {"serial": f"UNKNOWN{i:011d}", "verdict": "unknown", "scanned_at": ago(50 - i), "province_code": "01",
         "ip_hash": b"guesser"}
        for i in range(22)
    ]  # fmt: skip
    await logged_scans(stamps, *unknown)
    found = await detector(stamps).run_once()
    assert [(a["rule"], a["serial"]) for a in found.anomalies] == [
        ("R1", "UNKNOWN00000000004"),
        ("R10", "UNKNOWN00000000020"),
    ]
    for anomaly in found.anomalies:
        assert (anomaly["province_code"], anomaly["entity_id"], anomaly["batch_id"]) == ("01", None, None)
    assert found.anomalies[1]["detail"]["unknown_per_h"] == 21
    ha_noi = (await stamps.get(ANOMALIES, headers=auth("province_officer", "01"))).json()["items"]
    assert {a["rule"] for a in ha_noi} == {"R1", "R10"}
    assert (await stamps.get(ANOMALIES, headers=auth("province_officer", "22"))).json()["items"] == []


async def test_a_batch_burst_and_scans_committed_late(stamps: httpx.AsyncClient) -> None:
    product, serials = await stamp_with_serials(stamps, quantity=10)
    batch = product["batch_id"]
    job = detector(stamps)
    await logged_scans(stamps, *({"serial": s, "batch_id": batch, "scanned_at": ago(40 - i), "province_code": "22",
                                  "device_hash": s.encode()} for i, s in enumerate(serials[:3])))  # fmt: skip
    assert (await job.run_once()).anomalies == []
    # Two scans whose transactions committed after the round had read past their time, then the fourth.
    late = await logged_scans(stamps, *({"serial": s, "batch_id": batch, "scanned_at": ago(0.5), "province_code": "22",
                                         "device_hash": s.encode()} for s in serials[3:5]))  # fmt: skip
    found = await job.run_once()
    assert sorted(found.examined) == sorted(late)
    assert [a["rule"] for a in found.anomalies] == [
        "R11"
    ]  # 5 of 10 first-scanned within the hour in Quảng Ninh
    assert found.anomalies[0]["detail"]["first_scans"] == 5


async def test_r11_counts_the_hours_first_scans_it_does_not_read_again(
    stamps: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A round reads as rows only the first scans at its window's edges; those within every scan's window are
    counted per place, including a GPS fix the log left uncoded (placed as ``Scan.province`` places it)."""
    product, serials = await stamp_with_serials(stamps, quantity=10)
    batch = product["batch_id"]
    job = detector(stamps)
    coded = [{"serial": s, "batch_id": batch, "scanned_at": ago(40 - i), "province_code": "22"}
             for i, s in enumerate(serials[:3])]  # fmt: skip
    uncoded = {"serial": serials[3], "batch_id": batch, "scanned_at": ago(35), **HA_LONG}  # Quảng Ninh by GPS
    elsewhere = {"serial": serials[4], "batch_id": batch, "scanned_at": ago(34), "province_code": "01"}
    await logged_scans(stamps, *coded, uncoded, elsewhere)
    # 4 in Quảng Ninh: under burst_min_scans (the one in Hà Nội is out of the product's region: R8)
    assert [a["rule"] for a in (await job.run_once()).anomalies] == ["R8"]
    read: list[int] = []
    first_scans = AnomalyRepository.first_scans

    async def counted_rows(self: AnomalyRepository, **kwargs: Any) -> Any:
        found = await first_scans(self, **kwargs)
        read.extend(scan.id for scan in found)
        return found

    monkeypatch.setattr(AnomalyRepository, "first_scans", counted_rows)
    round_ = await logged_scans(
        stamps, {"serial": serials[5], "batch_id": batch, "scanned_at": ago(0.5), "province_code": "22"}
    )
    found = await job.run_once()
    assert [a["rule"] for a in found.anomalies] == ["R11"]
    detail = found.anomalies[0]["detail"]
    assert (detail["first_scans"], detail["batch_quantity"], detail["province"]) == (5, 10, "22")
    assert read == round_  # the 40 minutes before it were counted, not read


async def test_scans_logged_by_the_resolver_reach_the_detector(stamps: httpx.AsyncClient) -> None:
    product, serials = await stamp_with_serials(stamps, quantity=3)
    path = gs1.digital_link(product["gtin"], serials[0]).path()
    for (lat, lon), device in (((21.028, 105.854), "phone-a"), ((10.776, 106.700), "phone-b")):
        answer = await stamps.get(
            path, params={"lat": str(lat), "lon": str(lon), "accuracy": "20"},
            headers={"accept": "application/json", "cookie": f"ocop_device={device}"},
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
    logged = await rows(
        stamps, "SELECT province_code FROM stamps.scan WHERE serial = :s ORDER BY id", s=serials[0]
    )
    assert [row.province_code for row in logged] == ["01", "79"]  # placed by geography.province_at
    app = stamps._transport.app  # type: ignore[attr-defined]
    settings = app.state.settings.anomalies.model_copy(update={"settle_s": 0})
    job = AnomalyDetector(lambda: app.state.db, settings, every_s=1, since=ago(10))
    found = await job.run_once()
    assert {a["rule"] for a in found.anomalies} == {"R5", "R8"}
    [risk] = await rows(stamps, "SELECT * FROM stamps.stamp_risk WHERE serial = :s", s=serials[0])
    assert (risk.risk_score, risk.impossible_travel) == (75, 1)


async def test_the_detector_runs_in_a_child_process_of_lower_priority(database: TestDatabase) -> None:
    """By default the service starts the detector as a niced child, which examines scans and stops with it."""
    settings = StampsSettings(
        database_url=database.urls["stamps"], environment="test", jwt_public_keys=test_jwks(),
        events=in_process_events("stamps"), batch_job_every_s=0, anomaly_job_every_s=0.2,
        anomalies={"settle_s": 0},
    )  # fmt: skip
    app = create_app(settings)
    async for stamps in asgi_client(app):
        child = app.state.anomaly_detector
        assert isinstance(child, ChildProcess)
        assert child.process is not None
        process = psutil.Process(child.process.pid)
        assert process.ppid() == os.getpid()
        assert process.nice() == os.nice(0) + settings.anomaly_detector_nice
        product, serials = await stamp_with_serials(stamps)
        # The child read the parent's settings (this test's database, not the environment's).
        await logged_scans(
            stamps,
            {"serial": serials[0], "batch_id": product["batch_id"], "scanned_at": ago(30), **HA_NOI},
            {"serial": serials[0], "batch_id": product["batch_id"], "scanned_at": ago(1), **HO_CHI_MINH},
        )
        found: list[Any] = []
        for _ in range(150):
            found = await rows(stamps, "SELECT rule FROM stamps.anomaly WHERE serial = :s", s=serials[0])
            if found:
                break
            await asyncio.sleep(0.1)
        assert {row.rule for row in found} == {"R5", "R8"}
    assert app.state.anomaly_detector.process is None
    assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE


async def test_the_detector_can_run_on_the_service_event_loop(database: TestDatabase) -> None:
    settings = StampsSettings(
        database_url=database.urls["stamps"], environment="test", jwt_public_keys=test_jwks(),
        events=in_process_events("stamps"), batch_job_every_s=0, anomaly_job_every_s=3_600,
        anomaly_detector="inline",
    )  # fmt: skip
    app = create_app(settings)
    async for _ in asgi_client(app):
        job = app.state.anomaly_detector
        assert isinstance(job, AnomalyDetector)
        assert job.every_s == 3_600
        task = job._task
        assert task is not None
        assert not task.done()
    assert task is not None
    assert task.done()  # stopped with the service


async def test_a_restarted_detector_goes_on_from_its_stored_watermark(stamps: httpx.AsyncClient) -> None:
    """Stopped longer than its look-back, a new process examines what was logged meanwhile, and nothing twice."""
    product, serials = await stamp_with_serials(stamps)
    serial, batch = serials[0], product["batch_id"]
    app = stamps._transport.app  # type: ignore[attr-defined]
    settings = app.state.settings.anomalies.model_copy(update={"settle_s": 0, "lookback_h": 1})
    stopped_at = clock.now() - timedelta(hours=3)
    [seen] = await logged_scans(
        stamps,
        {"serial": serial, "batch_id": batch, "scanned_at": stopped_at - timedelta(minutes=30), **HA_NOI},
    )
    with clock.frozen_at(stopped_at):
        first = await AnomalyDetector(lambda: app.state.db, settings, every_s=1).run_once()
    assert (list(first.examined), [a["rule"] for a in first.anomalies]) == ([seen], ["R8"])
    [state] = await rows(stamps, "SELECT watermark, examined FROM stamps.anomaly_detector_state")
    assert state.watermark == stopped_at
    # Logged while no detector ran, more than lookback_h (1 h) ago: an hour after Hà Nội, in TP.HCM.
    [meanwhile] = await logged_scans(
        stamps,
        {
            "serial": serial,
            "batch_id": batch,
            "scanned_at": stopped_at + timedelta(minutes=30),
            **HO_CHI_MINH,
        },
    )
    restarted = AnomalyDetector(lambda: app.state.db, settings, every_s=1)
    found = await restarted.run_once()
    assert list(found.examined) == [meanwhile]
    assert [a["rule"] for a in found.anomalies] == ["R5"]  # R8 of the serial is open already
    assert (await AnomalyDetector(lambda: app.state.db, settings, every_s=1).run_once()).examined == {}
    assert len(await rows(stamps, "SELECT 1 FROM stamps.anomaly")) == 2
    [state] = await rows(stamps, "SELECT watermark FROM stamps.anomaly_detector_state")
    assert state.watermark > stopped_at + timedelta(hours=2)


async def test_the_epcis_chain_informs_out_of_region_after_sale_and_burst(stamps: httpx.AsyncClient) -> None:
    """R8 counts the provinces the lot was received in, R9 reads the serial's retail sale, R11 leaves a
    registered shop that received the lot alone: EPCIS events at registered sites, read by the detector."""
    product = await stamped_product(stamps)  # Quảng Ninh (22)
    batch = await generated_batch(stamps, product, quantity=10, lot="L8")
    serials = await serials_of(stamps, batch)
    shop = await location(
        stamps, product["producer"], name="Cửa hàng OCOP Quận 1", kind="shop", province_code="79",
        commune_code=None, latitude=10.776, longitude=106.700,
    )  # fmt: skip
    gtin = product["gtin"].zfill(14)

    def when(minutes: float) -> str:
        return ago(minutes).astimezone(clock.VIETNAM).isoformat(timespec="milliseconds")

    def unit(serial: str) -> str:
        return f"https://tem.ocop.example.vn/01/{gtin}/21/{serial}"

    at_shop = {"bizLocation": {"id": shop["uri"]}, "readPoint": {"id": shop["uri"]}}
    received = epcis_event(
        eventTime=when(300), epcList=[], bizStep="receiving", disposition="sellable_accessible",
        quantityList=[{"epcClass": f"https://id.gs1.org/01/{gtin}/10/L8", "quantity": 10}], **at_shop,
    )  # fmt: skip
    sold = [
        epcis_event(eventTime=when(40), epcList=[unit(s)], bizStep="retail_selling", disposition="retail_sold",
                    **at_shop)
        for s in serials[6:8]
    ]  # fmt: skip
    await stored_epcis_events(stamps, [received, *sold], entity_id=product["entity_id"])
    batch_id = batch["id"]
    in_hcm = [
        {"serial": s, "batch_id": batch_id, "scanned_at": ago(50 - i), "province_code": "79", "device_hash": s.encode()}
        for i, s in enumerate(serials[:5])
    ]  # fmt: skip
    await logged_scans(
        stamps, *in_hcm,
        {"serial": serials[5], "batch_id": batch_id, "scanned_at": ago(30), "device_hash": b"x", **HA_NOI},
        # Sold in TP.HCM 40 minutes ago: one scanned in Hà Nội 20 minutes later, one next to the shop.
        {"serial": serials[6], "batch_id": batch_id, "scanned_at": ago(20), "device_hash": b"y", **HA_NOI},
        {"serial": serials[7], "batch_id": batch_id, "scanned_at": ago(20), "device_hash": b"z", **HO_CHI_MINH},
    )  # fmt: skip
    found = await detector(stamps, settle_s=0).run_once()
    fired = sorted((a["rule"], serials.index(a["serial"])) for a in found.anomalies)
    # R8 only where the lot was not received (Hà Nội); R9 only far from the sale; no R11 in TP.HCM.
    assert fired == [("R8", 5), ("R8", 6), ("R9", 6)]
    [after_sale] = [a for a in found.anomalies if a["rule"] == "R9"]
    assert after_sale["detail"]["distance_km"] > 1_000


async def test_a_location_shared_from_the_scans_page_is_examined_as_an_apps_would_be(
    stamps: httpx.AsyncClient,
) -> None:
    product, serials = await stamp_with_serials(stamps)
    serial, batch = serials[0], product["batch_id"]
    # Hà Nội by an app's GPS, then a browser's scan 50 minutes later without a location yet.
    _, browser_scan = await logged_scans(
        stamps,
        {"serial": serial, "batch_id": batch, "scanned_at": ago(120), "device_hash": b"a", **HA_NOI},
        {"serial": serial, "batch_id": batch, "scanned_at": ago(70), "device_hash": b"b", "channel": "html"},
    )
    job = detector(stamps, settle_s=0)
    first = await job.run_once()
    assert len(first.examined) == 2
    assert [a["rule"] for a in first.anomalies] == ["R8"]
    # The consumer shares, from that scan's page, that it was in TP.HCM: the next round examines it again.
    app = stamps._transport.app  # type: ignore[attr-defined]
    scanned_at = (await rows(stamps, "SELECT scanned_at FROM stamps.scan WHERE id = :id", id=browser_scan))[0]
    key = app.state.settings.scan_token_key.get_secret_value().encode()
    token = tokens.issue(key, browser_scan, scanned_at.scanned_at)
    where = {"lat": HO_CHI_MINH["latitude"], "lon": HO_CHI_MINH["longitude"], "accuracy": 25}
    assert (await stamps.post(f"/s/{token}/geo", json=where)).status_code == 204
    second = await job.run_once()
    assert list(second.relocated) == [browser_scan]
    assert [(a["rule"], a["scan_id"]) for a in second.anomalies] == [("R5", browser_scan)]
    travel = (await rows(stamps, "SELECT * FROM stamps.anomaly WHERE rule = 'R5'"))[0]
    assert travel.detail["to_province"] == "79"
    # Once is enough: a later round does not examine it again.
    assert (await job.run_once()).relocated == {}


# The queue


async def raised(stamps: httpx.AsyncClient) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A Quảng Ninh product's serial scanned in Hà Nội then TP.HCM: an R8 and an R5 anomaly (newest first)."""
    product, serials = await stamp_with_serials(stamps)
    await logged_scans(
        stamps,
        {"serial": serials[0], "batch_id": product["batch_id"], "scanned_at": ago(120), **HA_NOI},
        {"serial": serials[0], "batch_id": product["batch_id"], "scanned_at": ago(100), **HO_CHI_MINH},
    )
    await detector(stamps).run_once()
    page = (await stamps.get(ANOMALIES, headers=ADMIN)).json()
    return product, page["items"]


async def test_who_sees_and_resolves_an_anomaly(stamps: httpx.AsyncClient) -> None:
    product, items = await raised(stamps)
    assert [a["rule"] for a in items] == ["R8", "R5"] or [a["rule"] for a in items] == ["R5", "R8"]
    anomaly = items[0]
    one = f"{ANOMALIES}/{anomaly['id']}"
    other_producer = auth("producer", str(uuid.uuid4()))
    for headers, sees in (
        (ADMIN, True), (product["officer"], True), (product["producer"], True),
        (auth("province_officer", "01"), False), (other_producer, False), (auth("commune_officer", "07090"), False),
        (auth("council_member", str(uuid.uuid4())), False), (auth("province_officer", "Quảng Ninh"), False),
        (auth("producer", "not-a-uuid"), False), (auth("partner", "x"), False),
    ):  # fmt: skip
        listed = await stamps.get(ANOMALIES, headers=headers)
        assert listed.status_code == 200, listed.text
        assert (len(listed.json()["items"]) == 2) is sees, headers
        assert (await stamps.get(one, headers=headers)).status_code == (200 if sees else 404), headers
    for path in (ANOMALIES, one):
        assert (await stamps.get(path)).status_code == 401
    note = {"note": "Đã kiểm tra: hàng giả bày bán tại chợ Bến Thành"}
    assert (await stamps.post(f"{one}/resolve", json=note)).status_code == 401
    assert (
        await stamps.post(f"{one}/resolve", json=note, headers=auth("province_officer", "01"))
    ).status_code == 404
    refused = await stamps.post(f"{one}/resolve", json=note, headers=product["producer"])
    assert refused.status_code == 403, refused.text
    resolved = await stamps.post(f"{one}/resolve", json=note, headers=product["officer"])
    assert resolved.status_code == 200, resolved.text
    assert (resolved.json()["status"], resolved.json()["resolution_note"]) == ("resolved", note["note"])
    assert resolved.json()["resolved_at"] is not None
    again = await stamps.post(f"{one}/resolve", json=note, headers=ADMIN)
    assert (again.status_code, again.json()["type"]) == (409, "/problems/anomaly-already-resolved")
    # An admin resolves any province's.
    other = items[1]
    assert (
        await stamps.post(f"{ANOMALIES}/{other['id']}/resolve", json=note, headers=ADMIN)
    ).status_code == 200


async def test_a_restarted_detector_raises_nothing_twice_even_once_resolved(
    stamps: httpx.AsyncClient,
) -> None:
    _, items = await raised(stamps)
    for anomaly in items:
        answer = await stamps.post(
            f"{ANOMALIES}/{anomaly['id']}/resolve", json={"note": "đã xử lý"}, headers=ADMIN
        )
        assert answer.status_code == 200, answer.text
    # A detector with no stored state (a first start) looks back: it examines both scans again.
    app = stamps._transport.app  # type: ignore[attr-defined]
    async with app.state.db.sessionmaker.begin() as session:
        await session.execute(text("DELETE FROM stamps.anomaly_detector_state"))
    job = detector(stamps, settle_s=0)
    again = await job.run_once()
    assert len(again.examined) == 2
    assert again.anomalies == []
    assert len(await rows(stamps, "SELECT 1 FROM stamps.anomaly")) == 2
    # A scan after the resolution is new evidence: Cần Thơ, 130 km from TP.HCM 100 minutes later.
    can_tho = {"latitude": 10.045, "longitude": 105.747, "accuracy_m": 25}
    await logged_scans(
        stamps,
        {
            "serial": items[0]["serial"],
            "batch_id": items[0]["batch_id"],
            "scanned_at": clock.now(),
            **can_tho,
        },
    )
    later = await job.run_once()
    assert [(a["rule"], a["detail"]["scan_province"]) for a in later.anomalies] == [("R8", "92")]


async def test_the_queue_filters_and_pages_newest_first(stamps: httpx.AsyncClient) -> None:
    product, items = await raised(stamps)
    officer = product["officer"]
    r5 = next(a for a in items if a["rule"] == "R5")

    async def listed(**query: Any) -> list[str]:
        answer = await stamps.get(ANOMALIES, params=query, headers=officer)
        assert answer.status_code == 200, answer.text
        return [a["id"] for a in answer.json()["items"]]

    assert await listed(rule="R5") == [r5["id"]]
    assert len(await listed(serial=r5["serial"], status="open", province_code="22")) == 2
    assert await listed(province_code="01") == []
    assert await listed(status="resolved") == []
    assert len(await listed(since=ago(10).isoformat())) == 2
    assert await listed(since=(clock.now() + timedelta(minutes=1)).isoformat()) == []
    first = (await stamps.get(ANOMALIES, params={"limit": 1}, headers=officer)).json()
    second = (
        await stamps.get(ANOMALIES, params={"limit": 1, "cursor": first["next_cursor"]}, headers=officer)
    ).json()
    assert [first["items"][0]["id"], second["items"][0]["id"]] == [a["id"] for a in items]
    assert second["next_cursor"] is None


async def test_bad_queries_and_bodies_name_their_field(stamps: httpx.AsyncClient) -> None:
    _, items = await raised(stamps)
    for query, field in (({"province_code": "1"}, "province_code"), ({"rule": "R2"}, "rule"),
                         ({"status": "closed"}, "status"), ({"since": "hôm qua"}, "since"), ({"cursor": "x"}, "cursor")):  # fmt: skip
        answer = await stamps.get(ANOMALIES, params=query, headers=ADMIN)
        assert answer.status_code == 422, (query, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert any(field in error["field"] for error in answer.json()["errors"]), answer.json()
    one = f"{ANOMALIES}/{items[0]['id']}"
    for body, field in (({"note": "ok"}, "note"), ({}, "note"), ({"note": "fine note", "extra": 1}, "extra")):
        answer = await stamps.post(f"{one}/resolve", json=body, headers=ADMIN)
        assert answer.status_code == 422, (body, answer.text)
        assert any(field in error["field"] for error in answer.json()["errors"]), answer.json()
    assert (await stamps.get(f"{ANOMALIES}/not-a-uuid", headers=ADMIN)).status_code == 422
    assert (await stamps.get(f"{ANOMALIES}/{uuid.uuid4()}", headers=ADMIN)).status_code == 404


class ScriptedPressure(PressureGauge):
    """The CPU pressure each wait is said to have had, in turn (None: unknown)."""

    def __init__(self, shares: list[float | None]) -> None:
        super().__init__()
        self.shares = iter(shares)

    def start(self) -> None:
        """Nothing to measure."""

    def share(self) -> float | None:
        """The next scripted share."""
        return next(self.shares)


class Stop(Exception):
    """Ends a detector's loop from its fake clock."""


def scripted_detector(
    monkeypatch: pytest.MonkeyPatch, rounds: list[DetectionRound], shares: list[float | None], *,
    stop_at: float, **settings: Any,
) -> tuple[AnomalyDetector, list[float], list[float]]:  # fmt: skip
    """A detector whose rounds, CPU pressure and clock are scripted (each round takes 1 s, a period 10 s);
    the times its rounds started and the waits it made."""
    now = [0.0]
    started: list[float] = []
    waits: list[float] = []
    script = iter(rounds)

    async def fake_sleep(seconds: float) -> None:
        waits.append(round(seconds, 6))
        now[0] += seconds
        if now[0] >= stop_at:
            raise Stop

    async def scripted_round() -> DetectionRound:
        started.append(now[0])
        now[0] += 1.0
        return next(script)

    job = AnomalyDetector(
        lambda: None,
        AnomalySettings(**settings),
        every_s=10,
        pressure=ScriptedPressure(shares),  # type: ignore[arg-type, return-value]
    )
    monkeypatch.setattr(job, "run_once", scripted_round)
    monkeypatch.setattr(runner, "monotonic", lambda: now[0])
    monkeypatch.setattr(runner, "pause", fake_sleep)
    return job, started, waits


async def test_a_detector_behind_a_burst_leaves_the_cpu_to_verifications_half_the_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After each full round it pauses as long as the round took (busy_share 0.5); a round that caught up does not."""
    rounds = [DetectionRound(full=True), DetectionRound(full=True), DetectionRound(full=False)]
    job, started, waits = scripted_detector(monkeypatch, rounds, [None] * 4, stop_at=12, busy_share=0.5)
    with pytest.raises(Stop):
        await job._loop()
    assert (started, waits) == ([0.0, 2.0, 4.0], [1.0, 1.0, 10.0])


async def test_under_cpu_pressure_the_detector_waits_but_never_past_max_yield_s(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pressure above the threshold: no round until scans have waited max_yield_s since it last caught up."""
    rounds = [DetectionRound(full=False)] * 3
    shares = [0.5, 0.5, 0.5, 0.5, 0.05, 0.5, 0.5]
    job, started, _ = scripted_detector(
        monkeypatch, rounds, shares, stop_at=70, yield_above_pressure=0.1, max_yield_s=25
    )
    with pytest.raises(Stop):
        await job._loop()
    # 0, 10, 20: pressure, behind < 25 s. 30: behind 30 s, a round (caught up at 31). 41: calm, a round
    # (caught up at 42). 52, 62: pressure again, behind 10 and 20 s: waits.
    assert started == [30.0, 41.0]


async def test_a_catch_up_stops_when_verifications_come_back_and_resumes_when_they_go(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Behind a burst it works full rounds; pressure during its busy-share pause sends it back to waiting."""
    rounds = [DetectionRound(full=True), DetectionRound(full=True), DetectionRound(full=False)]
    shares = [None, 0.9, 0.9, None, None, None]
    job, started, waits = scripted_detector(
        monkeypatch, rounds, shares, stop_at=30, busy_share=0.5, yield_above_pressure=0.1, max_yield_s=60
    )
    with pytest.raises(Stop):
        await job._loop()
    # A full round at 0, its pause 1 s under pressure: back to waiting a period (to 12), still pressed,
    # another period (to 22); calm: the catch-up goes on.
    assert (started, waits[:3]) == ([0.0, 22.0, 24.0], [1.0, 10.0, 10.0])


def test_the_detector_command_refuses_to_run_without_a_period() -> None:
    """Run alone with the replicas' STAMPS_ANOMALY_JOB_EVERY_S=0 it would spin: it says so and exits."""
    environment = {**os.environ, "STAMPS_ANOMALY_JOB_EVERY_S": "0", "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "services.stamps.commands.detect_anomalies"],
        env=environment, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "STAMPS_ANOMALY_JOB_EVERY_S must be above 0" in done.stderr


async def test_a_scanner_with_thousands_of_scans_in_the_hour_costs_a_round_a_bounded_read(
    stamps: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A device enumerated 3,000 codes in the hour: a round of its next 30 reads its latest scans only, and fires."""
    limits = {"round_limit": 50, "enumeration_unknown_per_h": 20, "enumeration_distinct_per_h": 100}
    earlier = [
        {"serial": f"GUESS{i:013d}", "verdict": "unknown", "scanned_at": ago(55 - i / 70), "device_hash": b"bot"}
        for i in range(3_000)
    ]  # fmt: skip
    latest = [
        {"serial": f"NEXT{i:014d}", "verdict": "unknown", "scanned_at": ago(5 - i / 10), "device_hash": b"bot"}
        for i in range(30)
    ]  # fmt: skip
    await logged_scans(stamps, *earlier, *latest)
    app = stamps._transport.app  # type: ignore[attr-defined]
    settings = app.state.settings.anomalies.model_copy(update={**limits, "settle_s": 0})
    job = AnomalyDetector(lambda: app.state.db, settings, every_s=1, since=ago(6))
    read: list[int] = []
    original = AnomalyRepository.scanner_scans

    async def counted(self: AnomalyRepository, **arguments: Any) -> list[Any]:
        found = await original(self, **arguments)
        read.append(len(found))
        return found

    monkeypatch.setattr(AnomalyRepository, "scanner_scans", counted)
    found = await job.run_once()
    assert len(found.examined) == 30
    assert read == [scanner_limit(settings)]  # 50 + 2 × 101 of the hour's 3,030
    assert [a["rule"] for a in found.anomalies] == ["R10"]
    assert found.anomalies[0]["detail"]["unknown_per_h"] > 20


# The partitions' indexes attached to the partitioned one (named by the migration, or by PostgreSQL for later months).
ATTACHED_INDEXES = """
    SELECT child.relname FROM pg_inherits JOIN pg_class child ON child.oid = pg_inherits.inhrelid
    WHERE pg_inherits.inhparent = CAST(:index AS regclass)"""


def _scans_of(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The plan's nodes that read a table, at every depth."""
    below = [node for child in plan.get("Plans", []) for node in _scans_of(child)]
    return [plan, *below] if "Relation Name" in plan else below


async def test_r11_reads_a_batchs_first_scans_only_however_often_it_is_scanned_again(
    stamps: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch scanned again and again in the hour: R11's read returns its first scans and reads no other row."""
    product, serials = await stamp_with_serials(stamps, quantity=10)
    batch = product["batch_id"]
    firsts = [{"serial": s, "batch_id": batch, "scanned_at": ago(50 - i), "province_code": "22"}
              for i, s in enumerate(serials[:6])]  # fmt: skip
    # Scanned first three hours ago, before the window: its scans within it are no first scans.
    before = {"serial": serials[6], "batch_id": batch, "scanned_at": ago(180), "province_code": "22"}
    again = [{"serial": s, "batch_id": batch, "scanned_at": ago(40 - n / 20), "province_code": "22"}
             for n in range(400) for s in serials[:7]]  # fmt: skip
    unknown = {"serial": "UNKNOWN00000000001", "scanned_at": ago(30), "verdict": "unknown"}
    first_ids = await logged_scans(stamps, *firsts, before)
    await logged_scans(stamps, *again, unknown)
    app = stamps._transport.app  # type: ignore[attr-defined]
    async with app.state.db.sessionmaker() as session:
        await session.execute(text("ANALYZE stamps.scan"))
        repository = AnomalyRepository(session)
        plans: list[dict[str, Any]] = []
        execute = session.execute

        async def explained(statement: Any, parameters: Any = None, **kwargs: Any) -> Any:
            if isinstance(statement, TextClause) and "first_scan" in statement.text:
                query = text(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement.text}")
                plans.append((await execute(query, parameters)).scalar_one()[0]["Plan"])
            return await execute(statement, parameters, **kwargs)

        monkeypatch.setattr(session, "execute", explained)
        found = await repository.first_scans(batch_ids=[uuid.UUID(batch)], after=ago(60), until=clock.now())
        monkeypatch.undo()
        attached = {
            row.relname
            for row in await session.execute(text(ATTACHED_INDEXES), {"index": "stamps.ix_scan_first"})
        }
    assert [scan.id for scan in found] == first_ids[:6]
    assert [scan.serial for scan in found] == serials[:6]
    assert {(scan.batch_id, scan.province) for scan in found} == {(uuid.UUID(batch), "22")}
    [plan] = plans
    read = _scans_of(plan)
    assert read
    assert {node.get("Index Name") for node in read} <= attached
    # Every row read is returned: none of the 2,800 repeat scans (nor the unknown one) is looked at.
    assert sum(node["Actual Rows"] + node.get("Rows Removed by Filter", 0) for node in read) == 6


async def test_r11s_counted_middle_holds_each_batchs_serials_first_scanned_per_place(
    stamps: httpx.AsyncClient,
) -> None:
    """``first_scan_counts`` over (after, until]: distinct serials per batch and province code, a serial flagged
    twice (two pods) counted once, a coded scan with a GPS fix counted once, only uncoded fixes as rows."""
    product, serials = await stamp_with_serials(stamps, quantity=10)
    other, other_serials = await stamp_with_serials(stamps, quantity=1)
    batch = product["batch_id"]
    after = clock.now() - timedelta(minutes=30)
    until = after + timedelta(minutes=10)

    def first(serial: str, minutes: float, **fields: Any) -> dict[str, Any]:
        return {"serial": serial, "batch_id": batch, "scanned_at": after + timedelta(minutes=minutes),
                "first_scan": True, "province_code": "22", **fields}  # fmt: skip

    ids = await logged_scans(
        stamps,
        first(serials[0], 0),  # at ``after``: outside
        first(serials[1], 1),
        first(serials[1], 2, first_scan=False),  # scanned again: no first scan
        first(serials[2], 3, **HA_LONG),  # coded and with its fix: counted by its code only
        first(serials[3], 4),
        first(serials[3], 5),  # flagged twice
        first(serials[4], 6, province_code=None, **HA_LONG),  # a fix the log left uncoded
        first(serials[5], 7, province_code=None),  # no place at all
        first(serials[6], 10, province_code="01"),  # at ``until``: inside
        {**first(serials[7], 10), "scanned_at": until + timedelta(microseconds=1)},
        {**first(other_serials[0], 5), "batch_id": other["batch_id"]},
    )
    app = stamps._transport.app  # type: ignore[attr-defined]
    async with app.state.db.sessionmaker() as session:
        counts, unplaced = await AnomalyRepository(session).first_scan_counts(
            batch_ids=[uuid.UUID(batch)], after=after, until=until
        )
    assert counts == {(uuid.UUID(batch), "22"): 3, (uuid.UUID(batch), "01"): 1}
    assert [(scan.id, scan.serial, scan.province) for scan in unplaced] == [(ids[6], serials[4], "22")]


async def test_risks_are_written_only_when_they_change(stamps: httpx.AsyncClient) -> None:
    """A round evaluates every examined stamp; the table verification reads gets a new row version only for
    a changed risk, and a stamp with none gets no row (its risk falling back to none is written)."""
    _, serials = await stamp_with_serials(stamps)
    app = stamps._transport.app  # type: ignore[attr-defined]

    async def save(*risks: tuple[str, int, list[str], int]) -> None:
        async with app.state.db.sessionmaker.begin() as session:
            await AnomalyRepository(session).save_risks([
                {"serial": serial, "risk_score": score, "rules": rules, "impossible_travel": travels}
                for serial, score, rules, travels in risks
            ])  # fmt: skip

    async def stored() -> dict[str, tuple[int, list[str], int, str]]:
        found = await rows(
            stamps, "SELECT serial, risk_score, rules, impossible_travel, xmin::text AS version"
            " FROM stamps.stamp_risk WHERE serial = ANY(:s)", s=serials[:2],
        )  # fmt: skip
        return {r.serial: (r.risk_score, r.rules, r.impossible_travel, r.version) for r in found}

    await save((serials[0], 75, ["R5"], 1), (serials[1], 0, [], 0))
    first = await stored()
    assert list(first) == [serials[0]]
    assert first[serials[0]][:3] == (75, ["R5"], 1)
    await save((serials[0], 75, ["R5"], 1), (serials[1], 0, [], 0))
    assert await stored() == first  # the same version: nothing rewritten
    await save((serials[0], 0, [], 1))
    changed = await stored()
    assert changed[serials[0]][:3] == (0, [], 1)
    assert changed[serials[0]][3] != first[serials[0]][3]
