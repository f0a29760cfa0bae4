"""Bulk import and export of entities and products (in-process registry, real PostgreSQL)."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import asyncpg
import httpx
import openpyxl
import pytest

from shared import clock
from tests import builders
from tests.builders import (
    ADMIN,
    ENTITY_COLUMNS,
    PRODUCT_COLUMNS,
    csv_file,
    entity_row,
    import_job,
    imported,
    png,
    product_row,
    upload,
    xlsx_file,
)
from tests.conftest import auth, registry_app, test_jwks
from tests.support.database import TestDatabase

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
# Import jobs run in the background with sessions of their own, and commit.
JOBS = pytest.mark.commits


async def stored_entities(db: asyncpg.Connection) -> dict[str, asyncpg.Record]:
    """Every entity in the test's database, by tax code."""
    return {row["tax_code"]: row for row in await db.fetch("SELECT * FROM registry.entity")}


async def stored_products(db: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every product in the test's database, by name."""
    return await db.fetch(
        """SELECT p.*, e.tax_code AS entity_tax_code FROM registry.product p
           JOIN registry.entity e ON e.id = p.entity_id ORDER BY p.name"""
    )


# Importing


@JOBS
async def test_csv_import_of_entities_then_products(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    unit = await builders.unit(db)
    entities = [entity_row(unit) for _ in range(3)]
    entities[1]["legal_name"] = "Công ty TNHH Trà hoa vàng Ba Chẽ – Quảng Ninh"
    entities[2].update(certifications="", raw_material_area_ha="", business_registration_date="17/05/2020")

    job = await import_job(registry_client, "entities", csv_file(ENTITY_COLUMNS, entities))

    assert job["status"] == "succeeded", job["errors"]
    assert (job["kind"], job["file_format"], job["filename"]) == ("entities", "csv", "danh-sach.csv")
    assert (job["created"], job["updated"], job["unchanged"], job["invalid"]) == (3, 0, 0, 0)
    assert job["done"] == job["total"] == job["validated"] == 3
    stored = await stored_entities(db)
    tea = stored[entities[1]["tax_code"]]
    assert tea["legal_name"] == "Công ty TNHH Trà hoa vàng Ba Chẽ – Quảng Ninh"
    assert tea["name_folded"] == "cong ty tnhh tra hoa vang ba che – quang ninh"
    assert tea["representative_name"] == "Nguyễn Thị Hường"
    assert (tea["commune_code"], tea["province_code"], tea["admin_unit_id"]) == (
        unit.commune_code, unit.province_code, unit.commune_id,
    )  # fmt: skip
    assert tea["certifications"] == ["VietGAP", "HACCP"]
    assert str(tea["raw_material_area_ha"]) == "12.50"
    third = stored[entities[2]["tax_code"]]
    assert (third["certifications"], third["raw_material_area_ha"]) == ([], None)
    assert third["business_registration_date"] == date(2020, 5, 17)

    products = [product_row(entities[0]["tax_code"]), product_row(entities[1]["tax_code"], product_set="11")]
    products[1].update(name="Trà hoa vàng Ba Chẽ", gtin="", external_id="")
    job = await import_job(registry_client, "products", csv_file(PRODUCT_COLUMNS, products, bom=False))

    assert job["status"] == "succeeded", job["errors"]
    assert (job["created"], job["updated"], job["unchanged"], job["done"], job["total"]) == (2, 0, 0, 2, 2)
    rows = await stored_products(db)
    tea_product = next(row for row in rows if row["name"] == "Trà hoa vàng Ba Chẽ")
    assert (tea_product["product_group"], tea_product["sector"]) == ("food", "food")
    assert tea_product["status"] == "idea"
    assert tea_product["ocop_star"] is None
    assert (tea_product["gtin"], tea_product["external_id"]) == (None, None)
    year = clock.today().year
    codes = sorted(row["product_code"] for row in rows)
    assert all(
        re.fullmatch(rf"{unit.province_code}-{unit.commune_code}-\d{{4}}-{year}", code) for code in codes
    )
    assert len(set(codes)) == 2
    history = await registry_client.get(f"/v1/products/{tea_product['id']}/history", headers=ADMIN)
    assert history.status_code == 200
    assert history.json()[0]["action"] == "registered"
    assert history.json()[0]["changes"]["import_job"] == job["id"]


@JOBS
async def test_xlsx_import_with_typed_cells(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    unit = await builders.unit(db)
    tax_code = builders.tax_code()
    row = entity_row(unit, tax_code=tax_code)
    cells: list[Any] = [row[column] for column in ENTITY_COLUMNS]
    # What Excel gives back: dates as dates, counts and areas as numbers, the commune code as a number.
    cells[ENTITY_COLUMNS.index("business_registration_date")] = date(2019, 3, 8)
    cells[ENTITY_COLUMNS.index("members_count")] = 40
    cells[ENTITY_COLUMNS.index("raw_material_area_ha")] = 3.75
    cells[ENTITY_COLUMNS.index("commune_code")] = int(unit.commune_code)
    cells[ENTITY_COLUMNS.index("legal_name")] = "HTX Chè Đường Hoa Hải Hà"

    job = await import_job(
        registry_client, "entities", xlsx_file(ENTITY_COLUMNS, [cells]), filename="dn.xlsx"
    )

    assert job["status"] == "succeeded", job["errors"]
    assert (job["file_format"], job["created"], job["done"], job["total"]) == ("xlsx", 1, 1, 1)
    stored = (await stored_entities(db))[tax_code]
    assert stored["legal_name"] == "HTX Chè Đường Hoa Hải Hà"
    assert stored["business_registration_date"] == date(2019, 3, 8)
    assert (stored["members_count"], str(stored["raw_material_area_ha"])) == (40, "3.75")

    product = product_row(tax_code, name="Chè Đường Hoa Hải Hà loại đặc biệt")
    product_cells: list[Any] = [product[column] for column in PRODUCT_COLUMNS]
    product_cells[PRODUCT_COLUMNS.index("product_set")] = 11
    job = await import_job(
        registry_client, "products", xlsx_file(PRODUCT_COLUMNS, [product_cells]), filename="sp.xlsx"
    )
    assert job["status"] == "succeeded", job["errors"]
    assert [row["name"] for row in await stored_products(db)] == ["Chè Đường Hoa Hải Hà loại đặc biệt"]


@JOBS
async def test_product_codes_continue_the_communes_sequence(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    unit = await builders.unit(db)
    entity = entity_row(unit)
    await imported(registry_client, "entities", csv_file(ENTITY_COLUMNS, [entity]))
    entity_id = (await stored_entities(db))[entity["tax_code"]]["id"]
    year = clock.today().year

    def code(number: int) -> str:
        return f"{unit.province_code}-{unit.commune_code}-{number:04d}-{year}"

    before = await registry_client.post(
        "/v1/products",
        json=builders.product_body(str(entity_id), name="Nước mắm Cái Rồng", product_set=9),
        headers=ADMIN,
    )
    assert before.status_code == 201, before.text
    rows = [product_row(entity["tax_code"]) for _ in range(2)]
    job = await import_job(registry_client, "products", csv_file(PRODUCT_COLUMNS, rows))
    after = await registry_client.post(
        "/v1/products",
        json=builders.product_body(str(entity_id), name="Sá sùng Quan Lạn"),
        headers=ADMIN,
    )

    assert after.status_code == 201, after.text
    assert job["created"] == 2
    assert before.json()["product_code"] == code(1)
    codes = {row["name"]: row["product_code"] for row in await stored_products(db)}
    assert [codes[row["name"]] for row in rows] == [code(2), code(3)]
    assert after.json()["product_code"] == code(4)


@JOBS
async def test_semicolon_separated_csv_with_decimal_commas(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    unit = await builders.unit(db)
    row = entity_row(unit, raw_material_area_ha="7,25", business_registration_date="01/12/2021")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=ENTITY_COLUMNS, delimiter=";", lineterminator="\r\n")
    writer.writeheader()
    writer.writerow(row)

    job = await import_job(registry_client, "entities", ("\ufeff" + buffer.getvalue()).encode())

    assert job["status"] == "succeeded", job["errors"]
    stored = (await stored_entities(db))[row["tax_code"]]
    assert str(stored["raw_material_area_ha"]) == "7.25"
    assert stored["business_registration_date"] == date(2021, 12, 1)


@JOBS
async def test_xlsx_errors_carry_the_spreadsheet_row_numbers(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    unit = await builders.unit(db)
    rows = [entity_row(unit) for _ in range(3)]
    rows[2]["representative_gender"] = "nữ"
    cells: list[list[Any]] = [[row[column] for column in ENTITY_COLUMNS] for row in rows]
    # Blank rows (as officials leave them) are skipped but still counted in the numbering.
    sheet_rows = [cells[0], [None] * len(ENTITY_COLUMNS), [], cells[1], cells[2]]

    job = await import_job(
        registry_client,
        "entities",
        xlsx_file(ENTITY_COLUMNS, sheet_rows),
        filename="ds.xlsx",
        valid_rows_only=True,
    )

    assert [(e["row"], e["column"]) for e in job["errors"]] == [(6, "representative_gender")]
    assert (job["total"], job["created"], job["invalid"], job["done"]) == (3, 2, 1, 3)
    assert set(await stored_entities(db)) == {
        rows[0]["tax_code"],
        rows[1]["tax_code"],
    }


@JOBS
async def test_an_invalid_row_fails_the_job_and_writes_nothing(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    unit = await builders.unit(db)
    rows = [entity_row(unit) for _ in range(4)]
    rows[1]["email"] = "không-phải-email"
    rows[2]["commune_code"] = "00000"
    rows[3]["tax_code"] = rows[0]["tax_code"]

    job = await import_job(registry_client, "entities", csv_file(ENTITY_COLUMNS, rows))

    assert job["status"] == "failed"
    assert (job["invalid"], job["total"], job["created"], job["done"]) == (3, 4, 0, 0)
    located = {(error["row"], error["column"]) for error in job["errors"]}
    assert located == {(3, "email"), (4, "commune_code"), (5, "tax_code")}
    assert "không-phải-email" in next(e["message"] for e in job["errors"] if e["column"] == "email")
    assert await stored_entities(db) == {}


@JOBS
async def test_valid_rows_only_imports_the_rest(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    unit = await builders.unit(db)
    rows = [entity_row(unit) for _ in range(3)]
    rows[1]["entity_type"] = "hộ kinh doanh"

    job = await import_job(registry_client, "entities", csv_file(ENTITY_COLUMNS, rows), valid_rows_only=True)

    assert job["status"] == "succeeded"
    assert (job["created"], job["invalid"], job["total"], job["done"]) == (2, 1, 3, 3)
    assert [(e["row"], e["column"]) for e in job["errors"]] == [(3, "entity_type")]
    stored = await stored_entities(db)
    assert set(stored) == {rows[0]["tax_code"], rows[2]["tax_code"]}


@JOBS
async def test_reimporting_the_same_file_changes_nothing(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    unit = await builders.unit(db)
    entities = [entity_row(unit) for _ in range(3)]
    entity_file = csv_file(ENTITY_COLUMNS, entities)
    assert (await imported(registry_client, "entities", entity_file))["created"] == 3
    products = [product_row(entities[0]["tax_code"]), product_row(entities[0]["tax_code"], external_id="")]
    product_file = csv_file(PRODUCT_COLUMNS, products)
    assert (await imported(registry_client, "products", product_file))["created"] == 2
    before = await stored_entities(db)
    products_before = await stored_products(db)

    again = await import_job(registry_client, "entities", entity_file)
    products_again = await import_job(registry_client, "products", product_file)

    assert (again["status"], again["created"], again["updated"], again["unchanged"]) == ("succeeded", 0, 0, 3)
    assert (products_again["created"], products_again["updated"], products_again["unchanged"]) == (0, 0, 2)
    after = await stored_entities(db)
    assert {k: v["updated_at"] for k, v in after.items()} == {k: v["updated_at"] for k, v in before.items()}
    products_after = await stored_products(db)
    assert [dict(row) for row in products_after] == [dict(row) for row in products_before]

    entities[1]["address"] = "Khu 5, phường Hà Tu"
    changed = await import_job(registry_client, "entities", csv_file(ENTITY_COLUMNS, entities))
    assert (changed["created"], changed["updated"], changed["unchanged"]) == (0, 1, 2)
    assert (await stored_entities(db))[entities[1]["tax_code"]]["address"] == ("Khu 5, phường Hà Tu")


@JOBS
async def test_products_are_matched_by_external_id_then_by_name(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    unit = await builders.unit(db)
    entity = entity_row(unit)
    await imported(registry_client, "entities", csv_file(ENTITY_COLUMNS, [entity]))
    tax_code = entity["tax_code"]
    keyed = product_row(tax_code, name="Chả mực Hạ Long", external_id="CM-01", gtin="")
    named = product_row(tax_code, name="Sá sùng khô Vân Đồn", external_id="", gtin="")
    columns = ["entity_tax_code", "name", "product_set", "external_id"]
    first = [{k: row[k] for k in columns} for row in (keyed, named)]
    assert (await imported(registry_client, "products", csv_file(columns, first)))["created"] == 2
    codes = {row["name"]: row["product_code"] for row in await stored_products(db)}

    renamed = [dict(first[0], name="Chả mực giã tay Hạ Long"), dict(first[1], external_id="SS-02")]
    job = await import_job(registry_client, "products", csv_file(columns, renamed))

    assert (job["created"], job["updated"], job["unchanged"]) == (0, 2, 0), job["errors"]
    after = {row["name"]: row for row in await stored_products(db)}
    assert after["Chả mực giã tay Hạ Long"]["product_code"] == codes["Chả mực Hạ Long"]
    assert after["Sá sùng khô Vân Đồn"]["external_id"] == "SS-02"
    history = await registry_client.get(
        f"/v1/products/{after['Chả mực giã tay Hạ Long']['id']}/history", headers=ADMIN
    )
    assert history.json()[-1]["changes"]["name"] == ["Chả mực Hạ Long", "Chả mực giã tay Hạ Long"]


@JOBS
async def test_product_rows_are_checked_against_the_registry_and_each_other(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    unit = await builders.unit(db)
    entity = entity_row(unit)
    await imported(registry_client, "entities", csv_file(ENTITY_COLUMNS, [entity]))
    tax_code = entity["tax_code"]
    good = product_row(tax_code)
    rows = [
        good,
        product_row(builders.tax_code()),  # no such entity
        product_row(tax_code, gtin="8935123400013"),  # wrong check digit
        product_row(tax_code, name=good["name"]),  # same product twice
        product_row(tax_code, product_set="27"),
    ]

    job = await import_job(registry_client, "products", csv_file(PRODUCT_COLUMNS, rows))

    assert job["status"] == "failed"
    assert {(e["row"], e["column"]) for e in job["errors"]} == {
        (3, "entity_tax_code"), (4, "gtin"), (5, "name"), (6, "product_set"),
    }  # fmt: skip
    assert await stored_products(db) == []


@JOBS
async def test_header_errors_are_reported_on_row_one(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    unit = await builders.unit(db)
    columns = [column for column in ENTITY_COLUMNS if column != "legal_name"] + ["ocop_star"]
    row = {k: v for k, v in entity_row(unit).items() if k != "legal_name"} | {"ocop_star": "5"}

    job = await import_job(registry_client, "entities", csv_file(columns, [row]))

    assert job["status"] == "failed"
    assert {(e["row"], e["column"]) for e in job["errors"]} == {(1, "ocop_star"), (1, "legal_name")}


@JOBS
async def test_unreadable_text_fails_the_job_naming_the_row(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    unit = await builders.unit(db)
    content = csv_file(ENTITY_COLUMNS, [entity_row(unit)] * 2000)
    broken = content + "Hợp tác xã".encode("utf-16-le")

    job = await import_job(registry_client, "entities", broken)

    assert job["status"] == "failed"
    assert job["errors"][0]["row"] == 2002  # the header, 2,000 good rows, then the bad text
    assert "UTF-8" in job["errors"][0]["message"]


# Export


@JOBS
async def test_export_then_reimport_changes_nothing(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    unit = await builders.unit(db)
    officer = auth("commune_officer", unit.commune_code, sub="can-bo-xa")
    entities = [entity_row(unit) for _ in range(3)]
    entities[0]["legal_name"] = '=HYPERLINK("http://x") Hợp tác xã Tiên Yên'
    entities[1].update(address='+ Khu 3; "Cẩm Phả"\nQuảng Ninh', certifications="", phone="+84 203 3826 123")
    await imported(registry_client, "entities", csv_file(ENTITY_COLUMNS, entities), headers=officer)
    products = [product_row(entities[0]["tax_code"]), product_row(entities[1]["tax_code"], story="")]
    products[0]["description"] = "- 40% ba kích tím\n- 60% rượu gạo men lá"
    await imported(registry_client, "products", csv_file(PRODUCT_COLUMNS, products), headers=officer)

    for kind, count in (("entities", 3), ("products", 2)):
        for file_format in ("csv", "xlsx"):
            exported = await registry_client.get(
                f"/v1/{kind}/export", params={"format": file_format}, headers=officer
            )
            assert exported.status_code == 200, exported.text
            disposition = exported.headers["content-disposition"]
            assert f"ocop-{kind}-" in disposition
            assert disposition.endswith(f'.{file_format}"')
            job = await import_job(
                registry_client, kind, exported.content, filename=f"export.{file_format}", headers=officer
            )
            assert job["status"] == "succeeded", job["errors"]
            assert (job["total"], job["created"], job["updated"], job["unchanged"]) == (count, 0, 0, count)

    csv_export = await registry_client.get("/v1/entities/export", headers=officer)
    assert csv_export.headers["content-type"].startswith("text/csv")
    assert csv_export.content.startswith("\ufeff".encode())
    text = csv_export.content.decode("utf-8-sig")
    assert "Nguyễn Thị Hường" in text
    assert "'=HYPERLINK" in text  # a spreadsheet must not run it as a formula
    exported_rows = list(csv.DictReader(io.StringIO(text)))
    assert list(exported_rows[0]) == ENTITY_COLUMNS
    assert {row["tax_code"] for row in exported_rows} == {row["tax_code"] for row in entities}

    workbook = openpyxl.load_workbook(
        io.BytesIO((await registry_client.get("/v1/entities/export?format=xlsx", headers=officer)).content)
    )
    sheet = workbook.worksheets[0]
    names = {sheet.cell(row=r, column=2).value for r in range(2, sheet.max_row + 1)}
    assert entities[0]["legal_name"] in names
    assert sheet.cell(row=2, column=2).data_type == "s"


@JOBS
async def test_exports_hold_only_what_the_caller_may_see(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    mine, theirs = await builders.unit(db), await builders.unit(db)
    mine_row, their_row = entity_row(mine), entity_row(theirs)
    await imported(registry_client, "entities", csv_file(ENTITY_COLUMNS, [mine_row, their_row]))

    exported = await registry_client.get(
        "/v1/entities/export", headers=auth("commune_officer", mine.commune_code)
    )

    assert exported.status_code == 200, exported.text
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [row["tax_code"] for row in rows] == [mine_row["tax_code"]]


# Uploads that are refused


async def test_oversize_upload_is_413(registry_client: httpx.AsyncClient) -> None:
    content = b"a" * (MAX_UPLOAD_BYTES + 1)
    declared = await upload(registry_client, "entities", content)
    assert declared.status_code == 413
    assert declared.headers["content-type"].startswith("application/problem+json")

    async def chunked() -> AsyncIterator[bytes]:
        boundary = b"--b0undary"
        yield boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="x.csv"\r\n\r\n'
        for _ in range(MAX_UPLOAD_BYTES // (1024 * 1024) + 2):
            yield b"a" * (1024 * 1024)
        yield b"\r\n" + boundary + b"--\r\n"

    streamed = await registry_client.post(
        "/v1/imports?kind=entities",
        content=chunked(),
        headers={**ADMIN, "Content-Type": "multipart/form-data; boundary=b0undary"},
    )
    assert streamed.status_code == 413


async def test_wrong_file_types_are_415(registry_client: httpx.AsyncClient) -> None:
    png_renamed = await upload(registry_client, "entities", png(), filename="danh-sach.csv")
    legacy_xls = await upload(registry_client, "entities", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512))
    zip_not_xlsx = await upload(registry_client, "entities", b"PK\x03\x04" + bytes(100), filename="a.xlsx")
    latin1 = await upload(registry_client, "entities", "tax_code\nHà Nam\n".encode("cp1258"))
    raw_body = await registry_client.post(
        "/v1/imports?kind=entities", content=b"tax_code\n", headers={**ADMIN, "Content-Type": "text/csv"}
    )

    for response in (png_renamed, legacy_xls, zip_not_xlsx, latin1, raw_body):
        assert response.status_code == 415, response.text
        assert response.json()["type"] == "/problems/unsupported-file-type"


async def test_an_upload_without_the_file_field_is_422(registry_client: httpx.AsyncClient) -> None:
    missing = await registry_client.post(
        "/v1/imports?kind=entities", files={"other": ("a.csv", b"x", "text/csv")}, headers=ADMIN
    )
    empty = await upload(registry_client, "entities", b"")

    assert missing.status_code == empty.status_code == 422
    assert missing.json()["errors"][0]["field"] == "body.file"


# Authorization


async def test_anonymous_callers_get_401_everywhere(registry_client: httpx.AsyncClient) -> None:
    responses = [
        await upload(registry_client, "entities", b"tax_code\n", headers={}),
        await registry_client.get("/v1/imports"),
        await registry_client.get(f"/v1/imports/{uuid.uuid4()}"),
        await registry_client.get("/v1/entities/export"),
        await registry_client.get("/v1/products/export?format=xlsx"),
    ]
    assert [response.status_code for response in responses] == [401] * 5


async def test_producers_and_other_roles_get_403(registry_client: httpx.AsyncClient) -> None:
    for headers in (auth("producer", str(uuid.uuid4())), auth("council_member", "m1"), auth("partner", "p1")):
        responses = [
            await upload(registry_client, "entities", b"tax_code\n", headers=headers),
            await registry_client.get("/v1/imports", headers=headers),
            await registry_client.get(f"/v1/imports/{uuid.uuid4()}", headers=headers),
            await registry_client.get("/v1/entities/export", headers=headers),
            await registry_client.get("/v1/products/export", headers=headers),
        ]
        assert [response.status_code for response in responses] == [403] * 5


@JOBS
async def test_officers_import_within_their_unit_and_see_only_their_units_jobs(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    mine, theirs = await builders.unit(db), await builders.unit(db)
    officer = auth("commune_officer", mine.commune_code, sub="can-bo-1")
    colleague = auth("commune_officer", mine.commune_code, sub="can-bo-2")
    other_unit = auth("commune_officer", theirs.commune_code, sub="can-bo-3")
    own_row, foreign_row = entity_row(mine), entity_row(theirs)

    job = await import_job(
        registry_client, "entities", csv_file(ENTITY_COLUMNS, [own_row, foreign_row]), headers=officer
    )

    assert job["status"] == "failed"
    assert [(e["row"], e["column"]) for e in job["errors"]] == [(3, "commune_code")]
    assert await stored_entities(db) == {}

    their_job = await imported(
        registry_client, "entities", csv_file(ENTITY_COLUMNS, [foreign_row]), headers=other_unit
    )
    taken = await import_job(
        registry_client, "entities", csv_file(ENTITY_COLUMNS, [dict(foreign_row, commune_code=mine.commune_code)]),
        headers=officer,
    )  # fmt: skip
    assert [(e["row"], e["column"]) for e in taken["errors"]] == [(2, "tax_code")]
    products = await import_job(
        registry_client, "products", csv_file(PRODUCT_COLUMNS, [product_row(foreign_row["tax_code"])]),
        headers=officer,
    )  # fmt: skip
    assert [(e["row"], e["column"]) for e in products["errors"]] == [(2, "entity_tax_code")]

    location = f"/v1/imports/{job['id']}"
    assert (await registry_client.get(location, headers=colleague)).status_code == 200
    assert (await registry_client.get(location, headers=ADMIN)).status_code == 200
    assert (await registry_client.get(location, headers=other_unit)).status_code == 404
    # The province's officers see the jobs of its communes (the API guide); another province's do not.
    province = auth("province_officer", mine.province_code)
    assert (await registry_client.get(location, headers=province)).status_code == 200
    province_jobs = (await registry_client.get("/v1/imports", headers=province)).json()["items"]
    assert {item["id"] for item in province_jobs} == {job["id"], taken["id"], products["id"]}
    assert (await registry_client.get(location, headers=auth("province_officer", "01"))).status_code == 404
    # A malformed or missing scope sees no job at all.
    for broken in (auth("commune_officer", "0709"), auth("commune_officer"), auth("province_officer", "2")):
        assert (await registry_client.get(location, headers=broken)).status_code == 404
        assert (await registry_client.get("/v1/imports", headers=broken)).json()["items"] == []
    listed = (await registry_client.get("/v1/imports", headers=colleague)).json()["items"]
    assert {item["id"] for item in listed} == {job["id"], taken["id"], products["id"]}
    theirs = (await registry_client.get("/v1/imports", headers=other_unit)).json()["items"]
    assert [item["id"] for item in theirs] == [their_job["id"]]


@JOBS
async def test_the_job_list_pages_newest_first(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    unit = await builders.unit(db)
    officer = auth("commune_officer", unit.commune_code)
    ids = [
        (
            await imported(
                registry_client, "entities", csv_file(ENTITY_COLUMNS, [entity_row(unit)]), headers=officer
            )
        )["id"]
        for _ in range(3)
    ]

    first = (await registry_client.get("/v1/imports?limit=2", headers=officer)).json()
    second = (
        await registry_client.get(f"/v1/imports?limit=2&cursor={first['next_cursor']}", headers=officer)
    ).json()

    assert [item["id"] for item in first["items"] + second["items"]] == ids[::-1]
    assert second["next_cursor"] is None


@pytest.mark.commits  # the registry starting up commits, on the jobs this test committed
async def test_jobs_left_running_by_a_crashed_process_are_failed_at_start_up(
    database: TestDatabase, db: asyncpg.Connection
) -> None:
    stalled, live = uuid.uuid4(), uuid.uuid4()
    for job_id, age in ((stalled, "1 hour"), (live, "1 minute")):
        await db.execute(
            f"""INSERT INTO registry.import_job (id, kind, file_format, valid_rows_only, status, done, created,
                    updated, unchanged, invalid, validated, created_by, created_by_role, updated_at)
                VALUES ($1, 'entities', 'csv', false, 'importing', 10, 0, 0, 0, 0, 10, 'officer',
                    'admin', now() - interval '{age}')""",
            job_id,
        )
    app = registry_app(database)
    async with app.router.lifespan_context(app):
        pass
    rows = {
        row["id"]: row
        for row in await db.fetch("SELECT id, status, errors::text AS errors FROM registry.import_job")
    }
    assert set(rows) == {stalled, live}
    assert rows[stalled]["status"] == "failed"
    assert "interrupted" in rows[stalled]["errors"]
    # A job still making progress (another replica's) is left alone.
    assert rows[live]["status"] == "importing"


@pytest.mark.commits  # the registry's periodic check commits, on a job this test committed
async def test_a_job_whose_process_died_is_failed_while_the_service_runs(
    database: TestDatabase, db: asyncpg.Connection
) -> None:
    from services.registry.config import RegistrySettings
    from services.registry.main import create_app

    app = create_app(
        RegistrySettings(
            database_url=database.urls["registry"], environment="test", jwt_public_keys=test_jwks(),
            import_stalled_after_s=2, import_stall_check_s=0.2,
        )
    )  # fmt: skip
    async with app.router.lifespan_context(app):
        # Started after the start-up sweep: another replica's job that then stops making progress.
        job_id = uuid.uuid4()
        await db.execute(
            """INSERT INTO registry.import_job (id, kind, file_format, valid_rows_only, status, done, created,
                   updated, unchanged, invalid, validated, created_by, created_by_role, updated_at)
               VALUES ($1, 'products', 'csv', false, 'validating', 0, 0, 0, 0, 0, 5, 'officer', 'admin', now())""",
            job_id,
        )
        status = "validating"
        for _ in range(100):
            await asyncio.sleep(0.1)
            status = await db.fetchval("SELECT status FROM registry.import_job WHERE id = $1", job_id)
            if status == "failed":
                break
        assert status == "failed"
        errors = await db.fetchval("SELECT errors::text FROM registry.import_job WHERE id = $1", job_id)
        assert "interrupted" in errors
