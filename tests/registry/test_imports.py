"""Bulk import and export of entities and products (in-process registry, real PostgreSQL)."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import random
import re
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import asyncpg
import httpx
import openpyxl

from shared import clock
from shared.db import asyncpg_dsn
from tests.conftest import auth
from tests.registry.factories import Unit, create_unit, unique_tax_code
from tests.support.database import TestDatabase

ENTITY_COLUMNS = [
    "entity_type", "legal_name", "tax_code", "business_registration_no", "business_registration_date",
    "business_registration_authority", "representative_name", "representative_gender",
    "representative_ethnicity", "address", "commune_code", "phone", "email", "website", "members_count",
    "local_workers_count", "raw_material_area_ha", "certifications", "gs1_company_prefix",
]  # fmt: skip
PRODUCT_COLUMNS = [
    "entity_tax_code", "name", "name_en", "description", "story", "product_set", "classification", "gtin",
    "external_id",
]  # fmt: skip
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
POLL_INTERVAL_S = 0.05
POLL_LIMIT_S = 60.0
MAX_UPLOAD_BYTES = 50 * 1024 * 1024

ADMIN = auth("admin", sub="import-admin")


def valid_gtin(body12: str) -> str:
    """A GTIN-13 with the right GS1 check digit."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


def entity_row(unit: Unit, **overrides: str) -> dict[str, str]:
    """A complete, valid entity row with Vietnamese text."""
    tag = uuid.uuid4().hex[:6]
    row = {
        "entity_type": "cooperative",
        "legal_name": f"Hợp tác xã Nông sản Đầm Hà {tag}",
        "tax_code": unique_tax_code(),
        "business_registration_no": f"22G{tag}",
        "business_registration_date": "2020-05-17",
        "business_registration_authority": "Phòng Tài chính – Kế hoạch huyện Đầm Hà",
        "representative_name": "Nguyễn Thị Hường",
        "representative_gender": "female",
        "representative_ethnicity": "Sán Dìu",
        "address": "Thôn Đông Hải, xã Quảng Lợi",
        "commune_code": unit.commune_code,
        "phone": "0203 3826 123",
        "email": f"htx{tag}@example.vn",
        "website": "https://damha.example.vn",
        "members_count": "25",
        "local_workers_count": "18",
        "raw_material_area_ha": "12.5",
        "certifications": "VietGAP; HACCP",
        "gs1_company_prefix": "8938505",
    }
    row.update(overrides)
    return row


# Consecutive from a random start: thousands of random GTINs in one file would collide now and then.
_GTIN_NUMBERS = itertools.count(random.randrange(10**9))


def product_row(tax_code: str, **overrides: str) -> dict[str, str]:
    """A complete, valid product row with Vietnamese text (names, external ids and GTINs unique in a run)."""
    tag = uuid.uuid4().hex[:16]
    row = {
        "entity_tax_code": tax_code,
        "name": f"Rượu ba kích Ba Chẽ {tag}",
        "name_en": "Morinda wine",
        "description": "Rượu ngâm củ ba kích tím, đóng chai 500 ml.",
        "story": "Người Dao ở Ba Chẽ ngâm ba kích từ bao đời.",
        "product_set": "14",
        "classification": "148",
        "gtin": valid_gtin("893" + f"{next(_GTIN_NUMBERS) % 10**9:09d}"),
        "external_id": f"SKU-{tag}",
    }
    row.update(overrides)
    return row


def csv_bytes(columns: list[str], rows: list[dict[str, str]], *, bom: bool = True) -> bytes:
    """A CSV file as Excel saves it ("CSV UTF-8"), optionally without the byte-order mark."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode()


def xlsx_bytes(columns: list[str], rows: list[list[Any]]) -> bytes:
    """A workbook whose first sheet holds the header and the rows (cells typed as given)."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(columns)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def upload(
    client: httpx.AsyncClient,
    kind: str,
    content: bytes,
    *,
    filename: str = "danh-sach.csv",
    headers: dict[str, str] = ADMIN,
    valid_rows_only: bool = False,
) -> httpx.Response:
    """POST a file to /v1/imports."""
    media_type = XLSX if filename.endswith(".xlsx") else "text/csv"
    return await client.post(
        "/v1/imports",
        params={"kind": kind, "valid_rows_only": str(valid_rows_only).lower()},
        files={"file": (filename, content, media_type)},
        headers=headers,
    )


async def finished(
    client: httpx.AsyncClient, location: str, headers: dict[str, str] = ADMIN
) -> dict[str, Any]:
    """Poll the job until it succeeds or fails (bounded), returning its final state."""
    async with asyncio.timeout(POLL_LIMIT_S):
        while True:
            response = await client.get(location, headers=headers)
            assert response.status_code == 200, response.text
            job = response.json()
            if job["status"] in ("succeeded", "failed"):
                return job
            await asyncio.sleep(POLL_INTERVAL_S)


async def run_import(client: httpx.AsyncClient, kind: str, content: bytes, **options: Any) -> dict[str, Any]:
    """Upload, expect 202 with a Location, and wait for the job to end."""
    headers = options.get("headers", ADMIN)
    response = await upload(client, kind, content, **options)
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/v1/imports/{response.json()['id']}"
    return await finished(client, response.headers["location"], headers)


async def stored_entities(db: asyncpg.Connection, tax_codes: list[str]) -> dict[str, asyncpg.Record]:
    rows = await db.fetch("SELECT * FROM registry.entity WHERE tax_code = ANY($1::text[])", tax_codes)
    return {row["tax_code"]: row for row in rows}


async def stored_products(db: asyncpg.Connection, tax_codes: list[str]) -> list[asyncpg.Record]:
    return await db.fetch(
        """SELECT p.*, e.tax_code AS entity_tax_code FROM registry.product p
           JOIN registry.entity e ON e.id = p.entity_id WHERE e.tax_code = ANY($1::text[]) ORDER BY p.name""",
        tax_codes,
    )


# Importing


async def test_csv_import_of_entities_then_products(
    registry_client: httpx.AsyncClient, database: TestDatabase, db: asyncpg.Connection
) -> None:
    unit = await create_unit(database)
    entities = [entity_row(unit) for _ in range(3)]
    entities[1]["legal_name"] = "Công ty TNHH Trà hoa vàng Ba Chẽ – Quảng Ninh"
    entities[2].update(certifications="", raw_material_area_ha="", business_registration_date="17/05/2020")

    job = await run_import(registry_client, "entities", csv_bytes(ENTITY_COLUMNS, entities))

    assert job["status"] == "succeeded", job["errors"]
    assert (job["kind"], job["file_format"], job["filename"]) == ("entities", "csv", "danh-sach.csv")
    assert (job["created"], job["updated"], job["unchanged"], job["invalid"]) == (3, 0, 0, 0)
    assert job["done"] == job["total"] == job["validated"] == 3
    stored = await stored_entities(db, [row["tax_code"] for row in entities])
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
    job = await run_import(registry_client, "products", csv_bytes(PRODUCT_COLUMNS, products, bom=False))

    assert job["status"] == "succeeded", job["errors"]
    assert (job["created"], job["updated"], job["unchanged"], job["done"], job["total"]) == (2, 0, 0, 2, 2)
    rows = await stored_products(db, [entities[0]["tax_code"], entities[1]["tax_code"]])
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


async def test_xlsx_import_with_typed_cells(
    registry_client: httpx.AsyncClient, database: TestDatabase, db: asyncpg.Connection
) -> None:
    unit = await create_unit(database)
    tax_code = unique_tax_code()
    row = entity_row(unit, tax_code=tax_code)
    cells: list[Any] = [row[column] for column in ENTITY_COLUMNS]
    # What Excel gives back: dates as dates, counts and areas as numbers, the commune code as a number.
    cells[ENTITY_COLUMNS.index("business_registration_date")] = date(2019, 3, 8)
    cells[ENTITY_COLUMNS.index("members_count")] = 40
    cells[ENTITY_COLUMNS.index("raw_material_area_ha")] = 3.75
    cells[ENTITY_COLUMNS.index("commune_code")] = int(unit.commune_code)
    cells[ENTITY_COLUMNS.index("legal_name")] = "HTX Chè Đường Hoa Hải Hà"

    job = await run_import(
        registry_client, "entities", xlsx_bytes(ENTITY_COLUMNS, [cells]), filename="dn.xlsx"
    )

    assert job["status"] == "succeeded", job["errors"]
    assert (job["file_format"], job["created"], job["done"], job["total"]) == ("xlsx", 1, 1, 1)
    stored = (await stored_entities(db, [tax_code]))[tax_code]
    assert stored["legal_name"] == "HTX Chè Đường Hoa Hải Hà"
    assert stored["business_registration_date"] == date(2019, 3, 8)
    assert (stored["members_count"], str(stored["raw_material_area_ha"])) == (40, "3.75")

    product = product_row(tax_code, name="Chè Đường Hoa Hải Hà loại đặc biệt")
    product_cells: list[Any] = [product[column] for column in PRODUCT_COLUMNS]
    product_cells[PRODUCT_COLUMNS.index("product_set")] = 11
    job = await run_import(
        registry_client, "products", xlsx_bytes(PRODUCT_COLUMNS, [product_cells]), filename="sp.xlsx"
    )
    assert job["status"] == "succeeded", job["errors"]
    assert [row["name"] for row in await stored_products(db, [tax_code])] == [
        "Chè Đường Hoa Hải Hà loại đặc biệt"
    ]


async def test_product_codes_continue_the_communes_sequence(
    registry_client: httpx.AsyncClient, database: TestDatabase, db: asyncpg.Connection
) -> None:
    unit = await create_unit(database)
    entity = entity_row(unit)
    await run_import(registry_client, "entities", csv_bytes(ENTITY_COLUMNS, [entity]))
    entity_id = (await stored_entities(db, [entity["tax_code"]]))[entity["tax_code"]]["id"]
    year = clock.today().year

    def code(number: int) -> str:
        return f"{unit.province_code}-{unit.commune_code}-{number:04d}-{year}"

    before = await registry_client.post(
        "/v1/products",
        json={"entity_id": str(entity_id), "name": "Nước mắm Cái Rồng", "product_set": 9},
        headers=ADMIN,
    )
    assert before.status_code == 201, before.text
    rows = [product_row(entity["tax_code"]) for _ in range(2)]
    job = await run_import(registry_client, "products", csv_bytes(PRODUCT_COLUMNS, rows))
    after = await registry_client.post(
        "/v1/products",
        json={"entity_id": str(entity_id), "name": "Sá sùng Quan Lạn", "product_set": 8},
        headers=ADMIN,
    )

    assert job["created"] == 2
    assert before.json()["product_code"] == code(1)
    imported = {row["name"]: row["product_code"] for row in await stored_products(db, [entity["tax_code"]])}
    assert [imported[row["name"]] for row in rows] == [code(2), code(3)]
    assert after.json()["product_code"] == code(4)


async def test_semicolon_separated_csv_with_decimal_commas(
    registry_client: httpx.AsyncClient, database: TestDatabase, db: asyncpg.Connection
) -> None:
    unit = await create_unit(database)
    row = entity_row(unit, raw_material_area_ha="7,25", business_registration_date="01/12/2021")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=ENTITY_COLUMNS, delimiter=";", lineterminator="\r\n")
    writer.writeheader()
    writer.writerow(row)

    job = await run_import(registry_client, "entities", ("\ufeff" + buffer.getvalue()).encode())

    assert job["status"] == "succeeded", job["errors"]
    stored = (await stored_entities(db, [row["tax_code"]]))[row["tax_code"]]
    assert str(stored["raw_material_area_ha"]) == "7.25"
    assert stored["business_registration_date"] == date(2021, 12, 1)


async def test_xlsx_errors_carry_the_spreadsheet_row_numbers(
    registry_client: httpx.AsyncClient, database: TestDatabase, db: asyncpg.Connection
) -> None:
    unit = await create_unit(database)
    rows = [entity_row(unit) for _ in range(3)]
    rows[2]["representative_gender"] = "nữ"
    cells: list[list[Any]] = [[row[column] for column in ENTITY_COLUMNS] for row in rows]
    # Blank rows (as officials leave them) are skipped but still counted in the numbering.
    sheet_rows = [cells[0], [None] * len(ENTITY_COLUMNS), [], cells[1], cells[2]]

    job = await run_import(
        registry_client,
        "entities",
        xlsx_bytes(ENTITY_COLUMNS, sheet_rows),
        filename="ds.xlsx",
        valid_rows_only=True,
    )

    assert [(e["row"], e["column"]) for e in job["errors"]] == [(6, "representative_gender")]
    assert (job["total"], job["created"], job["invalid"], job["done"]) == (3, 2, 1, 3)
    assert set(await stored_entities(db, [row["tax_code"] for row in rows])) == {
        rows[0]["tax_code"],
        rows[1]["tax_code"],
    }


async def test_an_invalid_row_fails_the_job_and_writes_nothing(
    registry_client: httpx.AsyncClient, database: TestDatabase, db: asyncpg.Connection
) -> None:
    unit = await create_unit(database)
    rows = [entity_row(unit) for _ in range(4)]
    rows[1]["email"] = "không-phải-email"
    rows[2]["commune_code"] = "00000"
    rows[3]["tax_code"] = rows[0]["tax_code"]

    job = await run_import(registry_client, "entities", csv_bytes(ENTITY_COLUMNS, rows))

    assert job["status"] == "failed"
    assert (job["invalid"], job["total"], job["created"], job["done"]) == (3, 4, 0, 0)
    located = {(error["row"], error["column"]) for error in job["errors"]}
    assert located == {(3, "email"), (4, "commune_code"), (5, "tax_code")}
    assert "không-phải-email" in next(e["message"] for e in job["errors"] if e["column"] == "email")
    assert await stored_entities(db, [row["tax_code"] for row in rows]) == {}


async def test_valid_rows_only_imports_the_rest(
    registry_client: httpx.AsyncClient, database: TestDatabase, db: asyncpg.Connection
) -> None:
    unit = await create_unit(database)
    rows = [entity_row(unit) for _ in range(3)]
    rows[1]["entity_type"] = "hộ kinh doanh"

    job = await run_import(registry_client, "entities", csv_bytes(ENTITY_COLUMNS, rows), valid_rows_only=True)

    assert job["status"] == "succeeded"
    assert (job["created"], job["invalid"], job["total"], job["done"]) == (2, 1, 3, 3)
    assert [(e["row"], e["column"]) for e in job["errors"]] == [(3, "entity_type")]
    stored = await stored_entities(db, [row["tax_code"] for row in rows])
    assert set(stored) == {rows[0]["tax_code"], rows[2]["tax_code"]}


async def test_reimporting_the_same_file_changes_nothing(
    registry_client: httpx.AsyncClient, database: TestDatabase, db: asyncpg.Connection
) -> None:
    unit = await create_unit(database)
    entities = [entity_row(unit) for _ in range(3)]
    entity_file = csv_bytes(ENTITY_COLUMNS, entities)
    assert (await run_import(registry_client, "entities", entity_file))["created"] == 3
    products = [product_row(entities[0]["tax_code"]), product_row(entities[0]["tax_code"], external_id="")]
    product_file = csv_bytes(PRODUCT_COLUMNS, products)
    assert (await run_import(registry_client, "products", product_file))["created"] == 2
    before = await stored_entities(db, [row["tax_code"] for row in entities])
    products_before = await stored_products(db, [entities[0]["tax_code"]])

    again = await run_import(registry_client, "entities", entity_file)
    products_again = await run_import(registry_client, "products", product_file)

    assert (again["status"], again["created"], again["updated"], again["unchanged"]) == ("succeeded", 0, 0, 3)
    assert (products_again["created"], products_again["updated"], products_again["unchanged"]) == (0, 0, 2)
    after = await stored_entities(db, [row["tax_code"] for row in entities])
    assert {k: v["updated_at"] for k, v in after.items()} == {k: v["updated_at"] for k, v in before.items()}
    products_after = await stored_products(db, [entities[0]["tax_code"]])
    assert [dict(row) for row in products_after] == [dict(row) for row in products_before]

    entities[1]["address"] = "Khu 5, phường Hà Tu"
    changed = await run_import(registry_client, "entities", csv_bytes(ENTITY_COLUMNS, entities))
    assert (changed["created"], changed["updated"], changed["unchanged"]) == (0, 1, 2)
    assert (await stored_entities(db, [entities[1]["tax_code"]]))[entities[1]["tax_code"]]["address"] == (
        "Khu 5, phường Hà Tu"
    )


async def test_products_are_matched_by_external_id_then_by_name(
    registry_client: httpx.AsyncClient, database: TestDatabase, db: asyncpg.Connection
) -> None:
    unit = await create_unit(database)
    entity = entity_row(unit)
    await run_import(registry_client, "entities", csv_bytes(ENTITY_COLUMNS, [entity]))
    tax_code = entity["tax_code"]
    keyed = product_row(tax_code, name="Chả mực Hạ Long", external_id="CM-01", gtin="")
    named = product_row(tax_code, name="Sá sùng khô Vân Đồn", external_id="", gtin="")
    columns = ["entity_tax_code", "name", "product_set", "external_id"]
    first = [{k: row[k] for k in columns} for row in (keyed, named)]
    assert (await run_import(registry_client, "products", csv_bytes(columns, first)))["created"] == 2
    codes = {row["name"]: row["product_code"] for row in await stored_products(db, [tax_code])}

    renamed = [dict(first[0], name="Chả mực giã tay Hạ Long"), dict(first[1], external_id="SS-02")]
    job = await run_import(registry_client, "products", csv_bytes(columns, renamed))

    assert (job["created"], job["updated"], job["unchanged"]) == (0, 2, 0), job["errors"]
    after = {row["name"]: row for row in await stored_products(db, [tax_code])}
    assert after["Chả mực giã tay Hạ Long"]["product_code"] == codes["Chả mực Hạ Long"]
    assert after["Sá sùng khô Vân Đồn"]["external_id"] == "SS-02"
    history = await registry_client.get(
        f"/v1/products/{after['Chả mực giã tay Hạ Long']['id']}/history", headers=ADMIN
    )
    assert history.json()[-1]["changes"]["name"] == ["Chả mực Hạ Long", "Chả mực giã tay Hạ Long"]


async def test_product_rows_are_checked_against_the_registry_and_each_other(
    registry_client: httpx.AsyncClient, database: TestDatabase, db: asyncpg.Connection
) -> None:
    unit = await create_unit(database)
    entity = entity_row(unit)
    await run_import(registry_client, "entities", csv_bytes(ENTITY_COLUMNS, [entity]))
    tax_code = entity["tax_code"]
    good = product_row(tax_code)
    rows = [
        good,
        product_row(unique_tax_code()),  # no such entity
        product_row(tax_code, gtin="8935123400013"),  # wrong check digit
        product_row(tax_code, name=good["name"]),  # same product twice
        product_row(tax_code, product_set="27"),
    ]

    job = await run_import(registry_client, "products", csv_bytes(PRODUCT_COLUMNS, rows))

    assert job["status"] == "failed"
    assert {(e["row"], e["column"]) for e in job["errors"]} == {
        (3, "entity_tax_code"), (4, "gtin"), (5, "name"), (6, "product_set"),
    }  # fmt: skip
    assert await stored_products(db, [tax_code]) == []


async def test_header_errors_are_reported_on_row_one(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    unit = await create_unit(database)
    columns = [column for column in ENTITY_COLUMNS if column != "legal_name"] + ["ocop_star"]
    row = {k: v for k, v in entity_row(unit).items() if k != "legal_name"} | {"ocop_star": "5"}

    job = await run_import(registry_client, "entities", csv_bytes(columns, [row]))

    assert job["status"] == "failed"
    assert {(e["row"], e["column"]) for e in job["errors"]} == {(1, "ocop_star"), (1, "legal_name")}


async def test_unreadable_text_fails_the_job_naming_the_row(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    unit = await create_unit(database)
    content = csv_bytes(ENTITY_COLUMNS, [entity_row(unit)] * 2000)
    broken = content + "Hợp tác xã".encode("utf-16-le")

    job = await run_import(registry_client, "entities", broken)

    assert job["status"] == "failed"
    assert job["errors"][0]["row"] is not None
    assert "UTF-8" in job["errors"][0]["message"]


# Export


async def test_export_then_reimport_changes_nothing(
    registry_client: httpx.AsyncClient, database: TestDatabase, db: asyncpg.Connection
) -> None:
    unit = await create_unit(database)
    officer = auth("commune_officer", unit.commune_code, sub="can-bo-xa")
    entities = [entity_row(unit) for _ in range(3)]
    entities[0]["legal_name"] = '=HYPERLINK("http://x") Hợp tác xã Tiên Yên'
    entities[1].update(address='+ Khu 3; "Cẩm Phả"\nQuảng Ninh', certifications="", phone="+84 203 3826 123")
    await run_import(registry_client, "entities", csv_bytes(ENTITY_COLUMNS, entities), headers=officer)
    products = [product_row(entities[0]["tax_code"]), product_row(entities[1]["tax_code"], story="")]
    products[0]["description"] = "- 40% ba kích tím\n- 60% rượu gạo men lá"
    await run_import(registry_client, "products", csv_bytes(PRODUCT_COLUMNS, products), headers=officer)

    for kind, count in (("entities", 3), ("products", 2)):
        for file_format in ("csv", "xlsx"):
            exported = await registry_client.get(
                f"/v1/{kind}/export", params={"format": file_format}, headers=officer
            )
            assert exported.status_code == 200, exported.text
            disposition = exported.headers["content-disposition"]
            assert f"ocop-{kind}-" in disposition
            assert disposition.endswith(f'.{file_format}"')
            job = await run_import(
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


async def test_exports_hold_only_what_the_caller_may_see(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    mine, theirs = await create_unit(database), await create_unit(database)
    mine_row, their_row = entity_row(mine), entity_row(theirs)
    await run_import(registry_client, "entities", csv_bytes(ENTITY_COLUMNS, [mine_row, their_row]))

    exported = await registry_client.get(
        "/v1/entities/export", headers=auth("commune_officer", mine.commune_code)
    )

    text = exported.content.decode("utf-8-sig")
    assert mine_row["tax_code"] in text
    assert their_row["tax_code"] not in text


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
    png_renamed = await upload(registry_client, "entities", PNG, filename="danh-sach.csv")
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


async def test_officers_import_within_their_unit_and_see_only_their_units_jobs(
    registry_client: httpx.AsyncClient, database: TestDatabase, db: asyncpg.Connection
) -> None:
    mine, theirs = await create_unit(database), await create_unit(database)
    officer = auth("commune_officer", mine.commune_code, sub="can-bo-1")
    colleague = auth("commune_officer", mine.commune_code, sub="can-bo-2")
    other_unit = auth("commune_officer", theirs.commune_code, sub="can-bo-3")
    own_row, foreign_row = entity_row(mine), entity_row(theirs)

    job = await run_import(
        registry_client, "entities", csv_bytes(ENTITY_COLUMNS, [own_row, foreign_row]), headers=officer
    )

    assert job["status"] == "failed"
    assert [(e["row"], e["column"]) for e in job["errors"]] == [(3, "commune_code")]
    assert await stored_entities(db, [own_row["tax_code"], foreign_row["tax_code"]]) == {}

    await run_import(
        registry_client, "entities", csv_bytes(ENTITY_COLUMNS, [foreign_row]), headers=other_unit
    )
    taken = await run_import(
        registry_client, "entities", csv_bytes(ENTITY_COLUMNS, [dict(foreign_row, commune_code=mine.commune_code)]),
        headers=officer,
    )  # fmt: skip
    assert [(e["row"], e["column"]) for e in taken["errors"]] == [(2, "tax_code")]
    products = await run_import(
        registry_client, "products", csv_bytes(PRODUCT_COLUMNS, [product_row(foreign_row["tax_code"])]),
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
    assert job["id"] in {
        item["id"] for item in (await registry_client.get("/v1/imports", headers=province)).json()["items"]
    }
    assert (await registry_client.get(location, headers=auth("province_officer", "01"))).status_code == 404
    # A malformed or missing scope sees no job at all.
    for broken in (auth("commune_officer", "0709"), auth("commune_officer"), auth("province_officer", "2")):
        assert (await registry_client.get(location, headers=broken)).status_code == 404
        assert (await registry_client.get("/v1/imports", headers=broken)).json()["items"] == []
    listed = (await registry_client.get("/v1/imports", headers=colleague)).json()["items"]
    assert job["id"] in {item["id"] for item in listed}
    assert all(item["created_by"] in ("can-bo-1", "can-bo-2") for item in listed)
    assert job["id"] not in {
        item["id"] for item in (await registry_client.get("/v1/imports", headers=other_unit)).json()["items"]
    }


async def test_the_job_list_pages_newest_first(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    unit = await create_unit(database)
    officer = auth("commune_officer", unit.commune_code)
    ids = [
        (
            await run_import(
                registry_client, "entities", csv_bytes(ENTITY_COLUMNS, [entity_row(unit)]), headers=officer
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


async def test_jobs_left_running_by_a_crashed_process_are_failed_at_start_up(database: TestDatabase) -> None:
    from services.registry.config import RegistrySettings
    from services.registry.main import create_app

    connection = await asyncpg.connect(asyncpg_dsn(database.admin_url))
    try:
        stalled, live = uuid.uuid4(), uuid.uuid4()
        for job_id, age in ((stalled, "1 hour"), (live, "1 minute")):
            await connection.execute(
                f"""INSERT INTO registry.import_job (id, kind, file_format, valid_rows_only, status, done, created,
                        updated, unchanged, invalid, validated, created_by, created_by_role, updated_at)
                    VALUES ($1, 'entities', 'csv', false, 'importing', 10, 0, 0, 0, 0, 10, 'officer',
                        'admin', now() - interval '{age}')""",
                job_id,
            )
        app = create_app(RegistrySettings(database_url=database.urls["registry"], environment="test"))
        async with app.router.lifespan_context(app):
            pass
        rows = {
            row["id"]: row
            for row in await connection.fetch(
                "SELECT id, status, errors::text AS errors FROM registry.import_job WHERE id = ANY($1::uuid[])",
                [stalled, live],
            )
        }
    finally:
        await connection.close()
    assert rows[stalled]["status"] == "failed"
    assert "interrupted" in rows[stalled]["errors"]
    # A job still making progress (another replica's) is left alone.
    assert rows[live]["status"] == "importing"


async def test_a_job_whose_process_died_is_failed_while_the_service_runs(database: TestDatabase) -> None:
    from services.registry.config import RegistrySettings
    from services.registry.main import create_app

    app = create_app(
        RegistrySettings(
            database_url=database.urls["registry"], environment="test",
            import_stalled_after_s=2, import_stall_check_s=0.2,
        )
    )  # fmt: skip
    connection = await asyncpg.connect(asyncpg_dsn(database.admin_url))
    try:
        async with app.router.lifespan_context(app):
            # Started after the start-up sweep: another replica's job that then stops making progress.
            job_id = uuid.uuid4()
            await connection.execute(
                """INSERT INTO registry.import_job (id, kind, file_format, valid_rows_only, status, done, created,
                       updated, unchanged, invalid, validated, created_by, created_by_role, updated_at)
                   VALUES ($1, 'products', 'csv', false, 'validating', 0, 0, 0, 0, 0, 5, 'officer', 'admin', now())""",
                job_id,
            )
            status = "validating"
            for _ in range(100):
                await asyncio.sleep(0.1)
                status = await connection.fetchval(
                    "SELECT status FROM registry.import_job WHERE id = $1", job_id
                )
                if status == "failed":
                    break
            assert status == "failed"
            errors = await connection.fetchval(
                "SELECT errors::text FROM registry.import_job WHERE id = $1", job_id
            )
            assert "interrupted" in errors
    finally:
        await connection.close()
