"""Consumers' reports (POST /v1/counterfeit-reports, anyone) and their review: officers of the stamp's province, its producer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from shared import gs1
from shared.images import MAX_IMAGE_BYTES
from tests.builders import active_stamps, png, stamped_product
from tests.conftest import auth
from tests.stamps.test_anomalies import rows
from tests.stamps.test_verification import path_of

pytestmark = pytest.mark.commits  # the scan log writes through its own connection
REPORTS = "/v1/counterfeit-reports"
BROWSER = {"accept": "text/html"}
ADMIN = auth("admin")
RECEIVED = "stamps.counterfeit_report.received"


async def scanned(stamps: httpx.AsyncClient, path: str) -> str:
    """A browser's scan of ``path``: the token of its page."""
    answer = await stamps.get(path, headers=BROWSER)
    assert answer.status_code == 307, answer.text
    return urlsplit(answer.headers["location"]).path.removeprefix("/s/")


def form(**fields: str) -> dict[str, str]:
    return {
        "kind": "suspected_fake",
        "description": "Tem in mờ, bao bì khác hẳn hàng mua ở Hạ Long.",
        **fields,
    }


async def received_events(stamps: httpx.AsyncClient) -> list[Any]:
    """The outbox rows of reports received, oldest first."""
    return await rows(
        stamps, "SELECT subject, data FROM stamps.outbox_event WHERE type = :t ORDER BY seq", t=RECEIVED
    )


async def reported(
    stamps: httpx.AsyncClient, fields: dict[str, str], photo: bytes | None = None, status: int = 201
) -> dict[str, Any]:
    files = {"photo": ("anh.png", photo, "image/png")} if photo is not None else None
    answer = await stamps.post(REPORTS, data=fields, files=files)
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_a_consumer_reports_from_the_page_of_a_scan_without_a_token(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    batch, serials = await active_stamps(stamps, product, quantity=1)
    token = await scanned(stamps, path_of(product, serials[0]))

    receipt = await reported(
        stamps, form(token=token, shop_name="Cửa hàng Minh Anh", shop_address="12 Bạch Đằng, Hạ Long"), png()
    )
    assert (receipt["serial"], receipt["kind"], receipt["status"]) == (serials[0], "suspected_fake", "open")
    assert set(receipt) == {"id", "serial", "kind", "status", "created_at"}
    # Its producer and the officers of its province read it, with the scan it came from and its photo.
    read = await stamps.get(f"{REPORTS}/{receipt['id']}", headers=product["officer"])
    assert read.status_code == 200, read.text
    body = read.json()
    assert (body["batch_id"], body["product_id"], body["entity_id"], body["province_code"]) == (
        batch["id"], product["id"], product["entity_id"], "22"
    )  # fmt: skip
    assert (body["shop_name"], body["shop_address"]) == ("Cửa hàng Minh Anh", "12 Bạch Đằng, Hạ Long")
    assert body["scan_id"] is not None
    assert (body["photo_type"], body["photo_url"]) == ("image/png", f"{REPORTS}/{receipt['id']}/photo")
    photo = await stamps.get(body["photo_url"], headers=product["producer"])
    assert (photo.status_code, photo.headers["content-type"], photo.content) == (200, "image/png", png())


async def test_a_typed_serial_is_enough_and_an_unknown_one_goes_to_admins(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    _, serials = await active_stamps(stamps, product, quantity=1)
    receipt = await reported(stamps, form(serial=gs1.grouped(serials[0]).lower(), kind="stamp_damaged"))
    assert receipt["serial"] == serials[0]
    listed = (await stamps.get(REPORTS, headers=product["officer"])).json()["items"]
    assert [(r["serial"], r["photo_url"], r["scan_id"]) for r in listed] == [(serials[0], None, None)]

    stranger = gs1.new_serial()
    unknown = await reported(stamps, form(serial=stranger))
    assert unknown["serial"] == stranger
    assert [r["serial"] for r in (await stamps.get(REPORTS, headers=product["officer"])).json()["items"]] == [
        serials[0]
    ]
    everything = (await stamps.get(REPORTS, headers=ADMIN)).json()["items"]
    assert [(r["serial"], r["province_code"]) for r in everything] == [(stranger, None), (serials[0], "22")]


async def test_a_report_on_an_unknown_code_goes_to_the_province_where_it_was_scanned(
    stamps: httpx.AsyncClient,
) -> None:
    product = await stamped_product(stamps)
    token = await scanned(stamps, path_of(product, gs1.new_serial()))
    located = await stamps.post(f"/s/{token}/geo", json={"lat": 21.028, "lon": 105.854, "accuracy": 20})
    assert located.status_code == 204, located.text
    receipt = await reported(stamps, form(token=token))
    ha_noi = (await stamps.get(REPORTS, headers=auth("province_officer", "01"))).json()["items"]
    assert [(r["id"], r["province_code"], r["entity_id"]) for r in ha_noi] == [(receipt["id"], "01", None)]


async def test_a_report_emits_one_event_without_personal_data(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    batch, serials = await active_stamps(stamps, product, quantity=1)
    token = await scanned(stamps, path_of(product, serials[0]))
    receipt = await reported(
        stamps,
        form(
            token=token, kind="product_mismatch", shop_name="Cửa hàng Minh Anh", shop_address="12 Bạch Đằng"
        ),
        png(),
    )
    [event] = await received_events(stamps)
    assert event.subject == f"counterfeit_report/{receipt['id']}"
    received_at = event.data.pop("received_at")
    assert datetime.fromisoformat(received_at) == datetime.fromisoformat(receipt["created_at"])
    # Exactly these: no description, shop, photo or scan (they may identify the consumer or others).
    assert event.data == {
        "report_id": receipt["id"], "serial": serials[0], "gtin": batch["gtin"], "batch_id": batch["id"],
        "product_id": product["id"], "entity_id": product["entity_id"], "province_code": "22",
        "kind": "product_mismatch", "has_photo": True,
    }  # fmt: skip

    stranger = gs1.new_serial()
    unknown = await reported(stamps, form(serial=stranger))
    assert [e.data["report_id"] for e in await received_events(stamps)] == [receipt["id"], unknown["id"]]
    data = (await received_events(stamps))[1].data
    assert {k: v for k, v in data.items() if k != "received_at"} == {
        "report_id": unknown["id"], "serial": stranger, "gtin": None, "batch_id": None, "product_id": None,
        "entity_id": None, "province_code": None, "kind": "suspected_fake", "has_photo": False,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"description": "x"}, "body.serial"),  # neither token nor serial
        ({"serial": "7K3Q9M2XH4TB8VNCAA"}, "body.serial"),  # the check pair is wrong
        ({"token": "not-a-token"}, "body.token"),
        ({"token": "A" * 43}, "body.token"),
        ({"serial": "7K3Q9M2XH4TB8VNCF9", "kind": "counterfeit"}, "body.kind"),
        ({"serial": "7K3Q9M2XH4TB8VNCF9", "description": ""}, "body.description"),
        ({"serial": "7K3Q9M2XH4TB8VNCF9", "description": "x" * 2001}, "body.description"),
        ({"serial": "7K3Q9M2XH4TB8VNCF9", "shop_name": "x" * 201}, "body.shop_name"),
        ({"serial": "7K3Q9M2XH4TB8VNCF9", "shop_address": "x" * 501}, "body.shop_address"),
        ({"serial": "7K3Q9M2XH4TB8VNCF9", "description": "tem\x00giả"}, "body.description"),
        ({"serial": "7K3Q9M2XH4TB8VNCF9", "status": "resolved"}, "body.status"),
    ],
)  # fmt: skip
async def test_an_invalid_report_is_a_422_naming_the_field(
    stamps: httpx.AsyncClient, fields: dict[str, str], field: str
) -> None:
    answer = await stamps.post(REPORTS, data=form(**fields))
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert field in [error["field"] for error in problem["errors"]], problem
    assert (await stamps.get(REPORTS, headers=ADMIN)).json()["items"] == []
    assert await received_events(stamps) == []


async def test_the_token_and_the_serial_must_name_the_same_stamp(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    _, serials = await active_stamps(stamps, product, quantity=2)
    token = await scanned(stamps, path_of(product, serials[0]))
    answer = await stamps.post(REPORTS, data=form(token=token, serial=serials[1]))
    assert answer.status_code == 422, answer.text
    assert [error["field"] for error in answer.json()["errors"]] == ["body.serial"]
    assert (await reported(stamps, form(token=token, serial=serials[0])))["serial"] == serials[0]


@pytest.mark.parametrize(
    ("photo", "status", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>", 415, "/problems/unsupported-photo-type"),
        (png() + b"\x00" * (MAX_IMAGE_BYTES + 1 - len(png())), 413, "/problems/photo-too-large"),
    ],
)
async def test_a_photo_is_checked_as_product_images_are(
    stamps: httpx.AsyncClient, photo: bytes, status: int, kind: str
) -> None:
    answer = await stamps.post(
        REPORTS, data=form(serial="7K3Q9M2XH4TB8VNCF9"), files={"photo": ("a.png", photo, "image/png")}
    )
    assert (answer.status_code, answer.json()["type"], answer.json()["field"]) == (status, kind, "photo")
    assert (await stamps.get(REPORTS, headers=ADMIN)).json()["items"] == []
    assert await received_events(stamps) == []


async def test_who_sees_and_resolves_a_report(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    _, serials = await active_stamps(stamps, product, quantity=1)
    receipt = await reported(stamps, form(serial=serials[0]), png())
    one = f"{REPORTS}/{receipt['id']}"
    for headers, sees in (
        (ADMIN, True), (product["officer"], True), (product["producer"], True),
        (auth("province_officer", "01"), False), (auth("producer", str(uuid.uuid4())), False),
        (auth("commune_officer", "07090"), False), (auth("council_member", str(uuid.uuid4())), False),
        (auth("national"), False), (auth("partner", "portal-1"), False), (auth("service", "registry"), False),
        (auth("province_officer", "Quảng Ninh"), False), (auth("province_officer"), False),
        (auth("producer", "not-a-uuid"), False), (auth("producer"), False),
    ):  # fmt: skip
        listed = await stamps.get(REPORTS, headers=headers)
        assert listed.status_code == 200, listed.text
        assert (len(listed.json()["items"]) == 1) is sees, headers
        for path in (one, f"{one}/photo"):
            assert (await stamps.get(path, headers=headers)).status_code == (200 if sees else 404), headers
    for path in (REPORTS, one, f"{one}/photo"):
        assert (await stamps.get(path)).status_code == 401
        assert (await stamps.get(path, headers=auth("anonymous"))).status_code == 401
    note = {"note": "Đã kiểm tra cửa hàng: tem thật, bao bì bị ẩm"}
    assert (await stamps.post(f"{one}/resolve", json=note)).status_code == 401
    for stranger in (auth("province_officer", "01"), auth("commune_officer", "22001")):
        assert (await stamps.post(f"{one}/resolve", json=note, headers=stranger)).status_code == 404
    refused = await stamps.post(f"{one}/resolve", json=note, headers=product["producer"])
    assert refused.status_code == 403, refused.text
    assert (
        await stamps.post(f"{one}/resolve", json={"note": ""}, headers=product["officer"])
    ).status_code == 422
    resolved = await stamps.post(f"{one}/resolve", json=note, headers=product["officer"])
    assert resolved.status_code == 200, resolved.text
    assert (resolved.json()["status"], resolved.json()["resolution_note"]) == ("resolved", note["note"])
    again = await stamps.post(f"{one}/resolve", json=note, headers=ADMIN)
    assert (again.status_code, again.json()["type"]) == (409, "/problems/report-already-resolved")
    assert [
        r["status"] for r in (await stamps.get(f"{REPORTS}?status=open", headers=ADMIN)).json()["items"]
    ] == []
    assert (await stamps.get(f"{REPORTS}/{uuid.uuid4()}", headers=ADMIN)).status_code == 404
