"""The print files' routes: a generated batch's CSV, ZIP and PDF sheets, one stamp's QR; who may, when, the audit."""

from __future__ import annotations

import csv
import io
import re
import uuid
import zipfile
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import text

from services.stamps.printing import exports, qr
from services.stamps.printing.repository import FETCH_ROWS, PrintRepository
from shared import gs1
from tests.builders import ADMIN, generated_batch, serials_of, stamped_product, stamps_in_state
from tests.conftest import auth

pytestmark = pytest.mark.commits  # the generation job commits
BATCHES = "/v1/stamp-batches"
HOST = "TEM.OCOP.EXAMPLE.VN"  # StampsSettings.resolver_host's default, as printed


async def downloads(stamps: httpx.AsyncClient, batch_id: str) -> list[tuple[Any, ...]]:
    """The audit rows of a batch's downloads: (format, serial, stamps, actor, actor_role), oldest first."""
    app = stamps._transport.app  # type: ignore[attr-defined]
    async with app.state.db.sessionmaker() as session:
        rows = await session.execute(
            text("SELECT format, serial, stamps, actor, actor_role FROM stamps.print_download"
                 " WHERE batch_id = :batch ORDER BY id"), {"batch": batch_id},
        )  # fmt: skip
        return [tuple(row) for row in rows]


def rows_of(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


async def test_the_csv_holds_a_row_a_stamp_in_serial_order_and_the_download_is_recorded(
    stamps: httpx.AsyncClient,
) -> None:
    product = await stamped_product(stamps)
    batch = await generated_batch(stamps, product, quantity=12, lot="L2407A")
    answer = await stamps.get(f"{BATCHES}/{batch['id']}/serials.csv", headers=product["producer"])
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == f'attachment; filename="stamps-{batch["id"]}.csv"'
    assert answer.headers["cache-control"] == "no-store"
    rows = rows_of(answer.content)
    assert rows[0] == ["serial", "grouped_serial", "uri", "lot"]
    assert [row[0] for row in rows[1:]] == await serials_of(stamps, batch)
    for serial, grouped, uri, lot in rows[1:]:
        assert grouped == gs1.grouped(serial)
        assert uri == f"HTTPS://{HOST}/01/{product['gtin'].zfill(14)}/10/L2407A/21/{serial}"
        assert lot == "L2407A"
    assert await downloads(stamps, batch["id"]) == [("csv", None, 12, "tester", "producer")]


async def test_the_zip_holds_the_csv_and_an_svg_a_stamp_unless_asked_not_to(
    stamps: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    product = await stamped_product(stamps)
    batch = await generated_batch(stamps, product, quantity=7)
    path = f"{BATCHES}/{batch['id']}/serials.zip"
    answer = await stamps.get(path, headers=product["officer"])
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert answer.headers["content-disposition"] == f'attachment; filename="stamps-{batch["id"]}.zip"'
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    assert archive.testzip() is None
    rows = rows_of(archive.read("stamps.csv"))[1:]
    serials = await serials_of(stamps, batch)
    assert [row[0] for row in rows] == serials
    assert sorted(archive.namelist()) == sorted(["stamps.csv", *(f"qr/{serial}.svg" for serial in serials)])
    assert archive.read(f"qr/{serials[3]}.svg") == qr.svg(rows[3][2])

    alone = await stamps.get(path, params={"svgs": "false"}, headers=product["producer"])
    assert zipfile.ZipFile(io.BytesIO(alone.content)).namelist() == ["stamps.csv"]
    monkeypatch.setattr(exports, "MAX_SVG_ENTRIES", 5)
    auto = await stamps.get(path, headers=product["producer"])
    assert zipfile.ZipFile(io.BytesIO(auto.content)).namelist() == [
        "stamps.csv"
    ]  # past the limit: the CSV alone
    refused = await stamps.get(path, params={"svgs": "true"}, headers=product["producer"])
    assert (refused.status_code, refused.json()["errors"][0]["field"]) == (422, "query.svgs")
    assert [row[0] for row in await downloads(stamps, batch["id"])] == ["zip", "zip", "zip"]


async def test_the_label_sheets_are_a_pdf_of_the_pages_the_layout_gives(
    stamps: httpx.AsyncClient,
) -> None:
    product = await stamped_product(stamps)
    batch = await generated_batch(stamps, product, quantity=40)
    path = f"{BATCHES}/{batch['id']}/labels.pdf"
    answer = await stamps.get(path, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"] == f'attachment; filename="stamps-{batch["id"]}.pdf"'
    document = answer.content
    assert document.startswith(b"%PDF-1.4\n")
    assert document.endswith(b"%%EOF\n")
    assert b"/Type /Pages /Count 2 " in document  # 35 labels a default A4 sheet
    assert len(re.findall(rb"/Type /Page\b", document)) == 2
    layout = {
        "columns": 2,
        "rows": 3,
        "label_width": 60,
        "label_height": 60,
        "qr_size": 40,
        "caption": "false",
    }
    custom = await stamps.get(path, params=layout, headers=ADMIN)
    assert custom.status_code == 200, custom.text
    assert b"/Type /Pages /Count 7 " in custom.content  # 6 labels a sheet
    assert await downloads(stamps, batch["id"]) == [("pdf", None, 40, "quan-tri", "admin")] * 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"columns": 6}, "query.columns"),  # 6 × 38 mm is wider than A4
        ({"qr_size": 37}, "query.qr_size"),  # the code and its padding do not fit a 38 mm label
        ({"columns": 0}, "query.columns"),
        ({"rows": 41}, "query.rows"),
        ({"label_width": "wide"}, "query.label_width"),
        ({"gap_x": -1}, "query.gap_x"),
        ({"qr_size": 5}, "query.qr_size"),
        ({"colour": "red"}, "query.colour"),
    ],
)
async def test_a_layout_that_cannot_be_printed_is_a_422_naming_its_parameter(
    stamps: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    product = await stamped_product(stamps)
    batch = await generated_batch(stamps, product, quantity=1)
    answer = await stamps.get(f"{BATCHES}/{batch['id']}/labels.pdf", params=params, headers=ADMIN)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in answer.json()["errors"]], answer.json()
    assert await downloads(stamps, batch["id"]) == []


async def test_a_batch_not_generated_has_no_print_files(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    requested = await stamps.post(
        BATCHES, json={"product_id": product["id"], "quantity": 5}, headers=product["producer"]
    )
    batch = requested.json()
    for name in ("serials.csv", "serials.zip", "labels.pdf"):
        answer = await stamps.get(f"{BATCHES}/{batch['id']}/{name}", headers=product["producer"])
        assert answer.status_code == 409, (name, answer.text)
        assert (answer.json()["type"], answer.json()["current_status"]) == (
            "/problems/stamp-batch-not-printable", "requested",
        )  # fmt: skip
    await stamps.post(f"{BATCHES}/{batch['id']}/approve", headers=product["officer"])
    answer = await stamps.get(f"{BATCHES}/{batch['id']}/serials.csv", headers=product["producer"])
    assert (answer.status_code, answer.json()["current_status"]) == (409, "approved")
    assert await downloads(stamps, batch["id"]) == []


async def test_a_batch_is_read_a_fetch_at_a_time_never_whole(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    batch = await generated_batch(stamps, product, quantity=2 * FETCH_ROWS + 500)
    app = stamps._transport.app  # type: ignore[attr-defined]
    async with app.state.db.sessionmaker() as session, session.begin():
        fetches = [list(fetch) async for fetch in PrintRepository(session).stamps_of(uuid.UUID(batch["id"]))]
    assert [len(fetch) for fetch in fetches] == [
        FETCH_ROWS,
        FETCH_ROWS,
        500,
    ]  # a server-side cursor's fetches
    assert [stamp.serial for fetch in fetches for stamp in fetch] == await serials_of(stamps, batch)


def modules_of(png: bytes, scale: int) -> list[list[int]]:
    """The dark (1) and light (0) modules of a QR PNG, read from the centre of each module's pixels."""
    image = Image.open(io.BytesIO(png)).convert("L")
    side = image.width // scale
    return [
        [
            1 if image.getpixel((x * scale + scale // 2, y * scale + scale // 2)) < 128 else 0
            for x in range(side)
        ]  # type: ignore[operator]
        for y in range(side)
    ]


async def test_a_stamps_qr_code_as_png_and_svg(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    batch = await generated_batch(stamps, product, quantity=3, lot="L2407A")
    serial = (await serials_of(stamps, batch))[1]
    uri = f"HTTPS://{HOST}/01/{product['gtin'].zfill(14)}/10/L2407A/21/{serial}"
    png = await stamps.get(f"/v1/stamps/{serial}/qr.png", params={"scale": 4}, headers=product["producer"])
    assert png.status_code == 200, png.text
    assert png.headers["content-type"] == "image/png"
    assert png.headers["content-disposition"] == f'inline; filename="{serial}.png"'
    assert png.headers["cache-control"] == "no-store"
    image = Image.open(io.BytesIO(png.content))
    assert image.size == (41 * 4, 41 * 4)  # version 4 (33 modules) and a quiet zone of 4 on each side
    code = qr.qr_code(uri)
    assert (code.mode, code.version, code.error) == ("alphanumeric", 4, "M")
    drawn = modules_of(png.content, 4)
    assert all(not any(row) for row in drawn[:4] + drawn[-4:])  # the quiet zone
    assert [bytes(row[4:-4]) for row in drawn[4:-4]] == qr.modules(code)  # the very code of the stamp's URI
    svg = await stamps.get(
        f"/v1/stamps/{serial}/qr.svg", params={"scale": 0.4, "unit": "mm"}, headers=product["officer"]
    )
    assert svg.status_code == 200, svg.text
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.content == qr.svg(uri, scale=0.4, unit="mm")
    width = re.search(rb'width="([0-9.]+)mm"', svg.content)
    assert width is not None
    assert float(width[1]) == pytest.approx(16.4)  # 0.4 mm modules, quiet zone included
    assert await downloads(stamps, batch["id"]) == [
        ("png", serial, 1, "tester", "producer"), ("svg", serial, 1, "tester", "province_officer"),
    ]  # fmt: skip


async def test_bad_qr_requests_are_422_and_unknown_or_unprintable_stamps_are_refused(
    stamps: httpx.AsyncClient,
) -> None:
    product = await stamped_product(stamps)
    batch = await generated_batch(stamps, product, quantity=3)
    serial, voided, revoked = await serials_of(stamps, batch)
    # Its last check character changed (a serial may already end in X: 1 in 32 did, and matched).
    mistyped = serial[:-1] + ("Y" if serial.endswith("X") else "X")
    for path, params, field in (
        (f"/v1/stamps/{serial}/qr.png", {"scale": 0}, "query.scale"),
        (f"/v1/stamps/{serial}/qr.png", {"scale": 41}, "query.scale"),
        (f"/v1/stamps/{serial}/qr.png", {"scale": 2.5}, "query.scale"),
        (f"/v1/stamps/{serial}/qr.svg", {"scale": 101}, "query.scale"),
        (f"/v1/stamps/{serial}/qr.svg", {"unit": "in"}, "query.unit"),
        (f"/v1/stamps/{serial.lower()}/qr.svg", {}, "path.serial"),
        (f"/v1/stamps/{mistyped}/qr.svg", {}, "path.serial"),  # the check pair does not match
    ):
        answer = await stamps.get(path, params=params, headers=product["producer"])
        assert answer.status_code == 422, (path, params, answer.text)
        assert field in [error["field"] for error in answer.json()["errors"]], (path, params, answer.json())
    unknown = gs1.new_serial()
    answer = await stamps.get(f"/v1/stamps/{unknown}/qr.svg", headers=ADMIN)
    assert (answer.status_code, answer.json()["type"]) == (404, "/problems/stamp-not-found")
    for stamp, state in ((voided, "void"), (revoked, "revoked")):
        await stamps_in_state(stamps, product, [stamp], state)
        answer = await stamps.get(f"/v1/stamps/{stamp}/qr.png", headers=product["producer"])
        assert (answer.status_code, answer.json()["current_state"]) == (409, state)
    await stamps_in_state(stamps, product, [serial], "active")
    active = await stamps.get(f"/v1/stamps/{serial}/qr.png", headers=product["producer"])
    assert active.status_code == 200  # an active stamp's code may be printed again


async def test_who_may_download_print_files(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps, province="22")
    batch = await generated_batch(stamps, product, quantity=2)
    serial = (await serials_of(stamps, batch))[0]
    callers = {
        "the batch's producer": (product["producer"], 200),
        "an officer of its province": (product["officer"], 200),
        "an admin": (ADMIN, 200),
        "another producer": (auth("producer", str(uuid.uuid4())), 404),
        "an officer of another province": (auth("province_officer", "01"), 404),
        "a commune officer of its commune": (auth("commune_officer", product["commune_code"]), 404),
        "a council member": (auth("council_member", str(uuid.uuid4())), 404),
        "the national client": (auth("national", "national"), 404),
        "a partner": (auth("partner", "partner"), 404),
        "a producer without a scope": (auth("producer"), 404),
        "an officer with a malformed scope": (auth("province_officer", "2"), 404),
        "anonymous": ({}, 401),
    }
    paths = [
        f"{BATCHES}/{batch['id']}/serials.csv", f"{BATCHES}/{batch['id']}/serials.zip",
        f"{BATCHES}/{batch['id']}/labels.pdf", f"/v1/stamps/{serial}/qr.svg", f"/v1/stamps/{serial}/qr.png",
    ]  # fmt: skip
    for path in paths:
        for who, (headers, status) in callers.items():
            answer = await stamps.get(path, headers=headers)
            assert answer.status_code == status, (path, who, answer.text[:200])
            if status != 200:
                assert answer.headers["content-type"] == "application/problem+json", (path, who)
    recorded = await downloads(stamps, batch["id"])
    assert len(recorded) == len(paths) * 3  # only the allowed downloads
    assert {row[4] for row in recorded} == {"producer", "province_officer", "admin"}
