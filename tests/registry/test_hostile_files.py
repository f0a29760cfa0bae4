"""Hostile workbooks are refused before any parser sees them, and no job is created for them."""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

import httpx
import pytest

from shared.files import HostileFile, WorkbookLimits, check_workbook
from tests.builders import ADMIN, Producer, finished_job, upload, xlsx_file
from tests.conftest import auth

ENTITY_COLUMNS = ["tax_code", "entity_type", "legal_name", "representative_name", "commune_code"]


def _rewrite(workbook: bytes, replace: dict[str, bytes | None], add: dict[str, bytes] | None = None) -> bytes:
    """The workbook with some parts replaced (None drops a part) and others added."""
    source = zipfile.ZipFile(io.BytesIO(workbook))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            if item.filename in replace:
                if replace[item.filename] is not None:
                    target.writestr(item.filename, replace[item.filename])  # type: ignore[arg-type]
            else:
                target.writestr(item, source.read(item))
        for name, data in (add or {}).items():
            target.writestr(name, data)
    return out.getvalue()


def _valid() -> bytes:
    return xlsx_file(ENTITY_COLUMNS, [["0101234567", "cooperative", "HTX", "Nguyễn Văn A", "07090"]])


def _shared_strings(count: int) -> bytes:
    items = b"<si><t>a</t></si>" * count
    return (
        b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/'
        b'spreadsheetml/2006/main">' + items + b"</sst>"
    )


def _hostile() -> dict[str, bytes]:
    workbook = _valid()
    names = zipfile.ZipFile(io.BytesIO(workbook)).namelist()
    original = zipfile.ZipFile(io.BytesIO(workbook)).read("xl/workbook.xml")
    sheet = next(name for name in names if name.startswith("xl/worksheets/"))
    rows = b"".join(b'<row r="%d"/>' % n for n in range(1, 200_100))
    return {
        "many shared strings": _rewrite(workbook, {}, {"xl/sharedStrings.xml": _shared_strings(1_500_000)})
        if "xl/sharedStrings.xml" not in names
        else _rewrite(workbook, {"xl/sharedStrings.xml": _shared_strings(1_500_000)}),
        "a DTD": _rewrite(
            workbook,
            {
                "xl/workbook.xml": b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY x "boom">]>'
                + original.split(b"?>", 1)[-1]
            },
        ),
        "no sheets": _rewrite(
            workbook,
            {"xl/workbook.xml": original.split(b"<sheets>")[0] + b"<sheets/></workbook>"},
        ),
        "too many rows": _rewrite(
            workbook,
            {
                sheet: b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
                + rows
                + b"</sheetData></worksheet>"
            },
        ),
        "a bomb": _rewrite(workbook, {}, {"xl/media/zeros.bin": bytes(300 * 1024 * 1024)}),
        "not a workbook": _rewrite(workbook, {"xl/workbook.xml": None}),
    }


HOSTILE = _hostile()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("many shared strings", "shared strings"),
        ("a DTD", "DTD"),
        ("no sheets", "no sheets"),
        ("too many rows", "rows"),
        ("a bomb", "too large once uncompressed"),
        ("not a workbook", "not an Excel workbook"),
    ],
)
def test_check_workbook_names_the_reason(name: str, reason: str) -> None:
    with pytest.raises(HostileFile) as refused:
        check_workbook(io.BytesIO(HOSTILE[name]))
    assert reason in refused.value.reason


def test_a_valid_workbook_passes_and_limits_are_configurable() -> None:
    check_workbook(io.BytesIO(_valid()))
    with pytest.raises(HostileFile):
        check_workbook(io.BytesIO(_valid()), WorkbookLimits(max_cells=2))


def test_the_bomb_is_small_on_the_wire() -> None:
    assert len(HOSTILE["a bomb"]) < 1024 * 1024


async def _job_count(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    listed = await client.get("/v1/imports", params={"limit": 200}, headers=headers)
    assert listed.status_code == 200, listed.text
    return len(listed.json()["items"])


@pytest.mark.parametrize("name", sorted(set(HOSTILE) - {"not a workbook"}))
async def test_a_hostile_workbook_is_422_and_creates_no_job(
    registry_client: httpx.AsyncClient, name: str
) -> None:
    officer = auth("province_officer", "93")
    response = await upload(
        registry_client, "entities", HOSTILE[name], filename="danh-sach.xlsx", headers=officer
    )
    assert response.status_code == 422, response.text
    problem: dict[str, Any] = response.json()
    assert problem["type"].endswith("/file-refused")
    assert problem["field"] == "file"
    assert await _job_count(registry_client, officer) == 0


async def test_a_zip_that_is_not_a_workbook_is_415(registry_client: httpx.AsyncClient) -> None:
    response = await upload(registry_client, "entities", HOSTILE["not a workbook"], filename="danh-sach.xlsx")
    assert response.status_code == 415, response.text
    assert "not an Excel workbook" in response.json()["detail"]


@pytest.mark.commits  # an import job runs in the background and commits
async def test_header_errors_are_capped(registry_client: httpx.AsyncClient) -> None:
    header = ",".join(f"cot_{n}" for n in range(500))
    response = await upload(registry_client, "entities", (header + "\r\n" + "," * 499 + "\r\n").encode())
    assert response.status_code == 202, response.text
    job = await finished_job(registry_client, response.headers["location"], ADMIN)
    assert job["status"] == "failed"
    assert len(job["errors"]) == 21
    assert "more error(s) in the header row" in job["errors"][-1]["message"]


@pytest.mark.commits  # an import job runs in the background and commits
async def test_csv_exports_defuse_formulas_in_every_column(
    registry_client: httpx.AsyncClient, producer: Producer
) -> None:
    officer = auth("commune_officer", producer.unit.commune_code)
    changed = await registry_client.patch(
        f"/v1/entities/{producer.entity_id}",
        json={"email": "=HYPERLINK(1)@evil.vn", "phone": "+84 203 3876 555"},
        headers=officer,
    )
    assert changed.status_code == 200, changed.text
    exported = await registry_client.get("/v1/entities/export", headers=officer)
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    (row,) = rows
    assert row["email"] == "'=HYPERLINK(1)@evil.vn"
    assert row["phone"] == "'+84 203 3876 555"
    # The export imports back unchanged: the apostrophe is the export's, not the value's.
    again = await upload(registry_client, "entities", exported.content, headers=officer)
    assert again.status_code == 202, again.text
    job = await finished_job(registry_client, again.headers["location"], officer)
    assert job["status"] == "succeeded", job
    assert job["updated"] == 0
    entity = await registry_client.get(f"/v1/entities/{producer.entity_id}", headers=officer)
    assert entity.json()["email"] == "=HYPERLINK(1)@evil.vn"
