"""Loading national unit lists from CSV: province merges, idempotence, corrections, validation, the CLI.

The lists use province codes clear of the shipped Quảng Ninh data (province 22, communes
06649-07198), which every test's database holds.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from services.registry.admin_units import loading, service
from services.registry.admin_units.errors import AdminUnitDataInvalid
from services.registry.commands import load_admin_units as load_command
from shared.db import Database
from tests.conftest import repo_root
from tests.support.database import TestDatabase
from tests.support.isolation import Scope

PRE_HEADER = "code,name,level,type,parent_code"
POST_HEADER = "code,name,level,type,parent_code,merged_from,merged_from_partial"
AFTER = date(2026, 1, 15)
BEFORE = date(2024, 6, 1)


def csv_text(header: str, *rows: str) -> str:
    return "\n".join([header, *rows]) + "\n"


@pytest.fixture
async def registry_db(scope: Scope) -> AsyncIterator[Database]:
    """The registry's sessions as its role: in the test's transaction, or a pool of its own if it commits."""
    if scope.registry is not None:
        yield scope.registry
        return
    db = Database.connect(
        scope.database.urls["registry"], application_name="test-admin-units-load", pool_size=3
    )
    try:
        yield db
    finally:
        await db.dispose()


async def load(db: Database, pre: str, post: str | None) -> loading.LoadReport:
    """Load in a transaction of its own and commit."""
    async with db.sessionmaker() as session, session.begin():
        return await loading.load_admin_units(session, pre, post)


async def rows(db: Database, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    async with db.sessionmaker() as session:
        return [tuple(row) for row in (await session.execute(text(sql), params)).all()]


async def unit_count(db: Database, *provinces: str) -> int:
    found = await rows(
        db, "SELECT count(*) FROM registry.admin_unit WHERE province_code = ANY(:p)", p=list(provinces)
    )
    return int(found[0][0])


async def successors(db: Database, code: str, on: date, as_of: date | None = None) -> list[tuple[str, bool]]:
    async with db.sessionmaker() as session:
        resolved = await service.current_successors(session, code, on, as_of=as_of)
        return [(unit.code, partial) for unit, partial in resolved]


# Two provinces (03, 05) merged into a new 03, as 2025 did to 53 of the 63 provinces.
MERGE_PRE = csv_text(
    PRE_HEADER,
    "03,Thử Một,province,tỉnh,",
    "05,Thử Hai,province,tỉnh,",
    "031,Đông Một,district,huyện,03",
    "051,Tây Hai,district,thị xã,05",
    "03101,Ấp Một,commune,xã,031",
    "03102,Ấp Hai,commune,thị trấn,031",
    "05101,Bến Một,commune,phường,051",
    "05102,Bến Hai,commune,phường,051",
)
MERGE_POST = csv_text(
    POST_HEADER,
    "03,Thử Mới,province,tỉnh,,03;05,",
    "03201,Một Hai,commune,xã,03,03101;03102,",
    "03202,Bến Mới,commune,phường,03,05101;05102,05102",
    "03203,Bến Nam,commune,đặc khu,03,05102,05102",
)


async def test_merged_provinces_close_and_a_successor_province_is_created(
    registry_db: Database, registry_client: httpx.AsyncClient
) -> None:
    report = await load(registry_db, MERGE_PRE, MERGE_POST)
    assert (report.units_inserted, report.units_updated) == (12, 0)
    provinces = await rows(
        registry_db,
        """SELECT code, name, valid_from, valid_to FROM registry.admin_unit
           WHERE level = 'province' AND province_code IN ('03', '05') ORDER BY code, valid_from NULLS FIRST""",
    )
    reform = date(2025, 7, 1)
    assert provinces == [
        ("03", "Thử Một", None, reform),
        ("03", "Thử Mới", reform, None),
        ("05", "Thử Hai", None, reform),
    ]
    assert await successors(registry_db, "05", AFTER, as_of=BEFORE) == [("03", False)]
    # Districts go straight to the province that exists after the reform.
    assert await successors(registry_db, "051", AFTER) == [("03", False)]
    assert await successors(registry_db, "05102", AFTER) == [("03202", True), ("03203", True)]
    assert await successors(registry_db, "03102", AFTER) == [("03201", False)]
    communes = await rows(
        registry_db,
        "SELECT code, parent_code, province_code FROM registry.admin_unit WHERE code IN ('03101', '03202')",
    )
    assert sorted(communes) == [("03101", "031", "03"), ("03202", "03", "03")]

    gone = await registry_client.get("/v1/admin-units/05")
    assert gone.status_code == 404
    assert "until 2025-07-01" in gone.json()["detail"]
    new = (await registry_client.get("/v1/admin-units/03")).json()
    assert (new["name"], new["valid_from"]) == ("Thử Mới", "2025-07-01")
    assert [(p["code"], p["name"]) for p in new["predecessors"]] == [
        ("03", "Thử Một"),
        ("031", "Đông Một"),
        ("05", "Thử Hai"),
        ("051", "Tây Hai"),
    ]
    before = await registry_client.get("/v1/admin-units/03202", params={"on": "2025-06-30"})
    assert before.status_code == 404  # the code only exists from the reform on
    assert before.json()["periods"] == [
        {"name": "Bến Mới", "level": "commune", "valid_from": "2025-07-01", "valid_to": None}
    ]


async def test_reloading_changes_nothing_and_corrections_update_in_place(registry_db: Database) -> None:
    pre = csv_text(
        PRE_HEADER,
        "09,Sửa Chữa,province,tỉnh,",
        "091,Huyện Sửa,district,huyện,09",
        "09101,Làng Một,commune,xã,091",
        "09102,Làng Hai,commune,xã,091",
        "09103,Làng Ba,commune,xã,091",
    )
    post = csv_text(
        POST_HEADER,
        "09,Sửa Chữa,province,tỉnh,,09,",
        "09201,Xã Mới,commune,xã,09,09101;09102;09103,09103",
        "09202,Xã Khác,commune,xã,09,09103,09103",
    )
    first = await load(registry_db, pre, post)
    assert (first.units_inserted, first.successions_inserted) == (7, 5)
    ids = dict(await rows(registry_db, "SELECT code, id FROM registry.admin_unit WHERE province_code = '09'"))
    again = await load(registry_db, pre, post)
    assert not again.changed
    assert again.units_unchanged == 7

    # A corrected edition: a misspelt name, 09103 went wholly into 09202 and 09102 moved there too.
    fixed_pre = pre.replace("Làng Ba", "Làng Bà")
    fixed_post = csv_text(
        POST_HEADER,
        "09,Sửa Chữa,province,tỉnh,,09,",
        "09201,Xã Mới,commune,xã,09,09101,",
        "09202,Xã Khác,commune,xã,09,09102;09103,",
    )
    fixed = await load(registry_db, fixed_pre, fixed_post)
    assert (fixed.units_inserted, fixed.units_updated) == (0, 1)
    assert (fixed.successions_inserted, fixed.successions_updated, fixed.successions_deleted) == (1, 1, 2)
    assert (
        dict(await rows(registry_db, "SELECT code, id FROM registry.admin_unit WHERE province_code = '09'"))
        == ids
    )
    assert await successors(registry_db, "09103", AFTER) == [("09202", False)]
    assert await successors(registry_db, "09102", AFTER) == [("09202", False)]
    names = await rows(registry_db, "SELECT name, name_folded FROM registry.admin_unit WHERE code = '09103'")
    assert names == [("Làng Bà", "lang ba")]


async def test_a_list_without_the_post_reform_file_then_with_it(registry_db: Database) -> None:
    pre = csv_text(
        PRE_HEADER,
        "13,Trước Một,province,tỉnh,",
        "16,Trước Hai,province,thành phố,",
        "131,Quận Một,district,quận,13",
        "161,Quận Hai,district,quận,16",
        "13101,Phường Một,commune,phường,131",
        "16101,Phường Hai,commune,phường,161",
    )
    await load(registry_db, pre, None)
    assert await successors(registry_db, "131", AFTER) == [("13", False)]
    assert await successors(registry_db, "13", AFTER) == [("13", False)]
    post = csv_text(
        POST_HEADER,
        "16,Sau Hai,province,thành phố,,13;16,",
        "16201,Phường Mới,commune,phường,16,13101;16101,",
    )
    report = await load(registry_db, pre, post)
    # Both districts now lead to the new province 16, not to the provinces they were in.
    assert report.successions_deleted == 2
    assert await successors(registry_db, "131", AFTER) == [("16", False)]
    assert await successors(registry_db, "13", AFTER) == [("16", False)]
    assert await successors(registry_db, "13101", AFTER) == [("16201", False)]
    assert await unit_count(registry_db, "13", "16") == 8


@pytest.mark.commits  # two loads race, each in a transaction of its own
async def test_concurrent_loads_of_the_same_lists_both_succeed(registry_db: Database) -> None:
    pre = csv_text(PRE_HEADER, "21,Song Song,province,tỉnh,", "211,Huyện Đôi,district,huyện,21")
    pre += "".join(f"21{n:03d},Xã {n},commune,xã,211\n" for n in range(1, 60))
    post = csv_text(POST_HEADER, "21,Song Song,province,tỉnh,,21,")
    post += "".join(f"21{n + 500:03d},Xã Mới {n},commune,xã,21,21{n:03d},\n" for n in range(1, 60))
    reports = await asyncio.gather(load(registry_db, pre, post), load(registry_db, pre, post))
    assert sum(r.units_inserted for r in reports) == 120
    assert await unit_count(registry_db, "21") == 120
    links = await rows(
        registry_db,
        """SELECT count(*) FROM registry.admin_unit_succession s
           JOIN registry.admin_unit u ON u.id = s.predecessor_id WHERE u.province_code = '21'""",
    )
    assert links == [(60,)]


# Validation: every fault by file, row and column, and nothing written.

GOOD_PRE = (
    "28,Kiểm Tra,province,tỉnh,",
    "281,Huyện Kiểm,district,huyện,28",
    "28101,Xã Đúng,commune,xã,281",
)


async def assert_invalid(
    db: Database, pre: str, post: str | None, *expected: tuple[str, int, str | None]
) -> list[dict[str, Any]]:
    """The load fails with (at least) these (file, row, column) faults and writes nothing."""
    before = await unit_count(db, "28")
    with pytest.raises(AdminUnitDataInvalid) as failure:
        await load(db, pre, post)
    found = {(e["file"], e["row"], e["column"]) for e in failure.value.row_errors}
    assert found == set(expected), failure.value.row_errors
    assert failure.value.status == 422
    assert await unit_count(db, "28") == before == 0
    return failure.value.row_errors


async def test_bad_level_unknown_parent_and_bad_codes_are_reported_by_row_and_column(
    registry_db: Database,
) -> None:
    pre = csv_text(
        PRE_HEADER,
        *GOOD_PRE,
        "28102,Xã Sai Cấp,village,xã,281",
        "28103,Xã Mồ Côi,commune,xã,289",
        "2810A,Xã Chữ,commune,xã,281",
        "2814,Xã Mất Số Không,commune,xã,281",
        "28105,Xã Kiểu Lạ,commune,quận,281",
        "28101,Xã Trùng,commune,xã,281",
        "28106,,commune,xã,281",
        "28107,Xã Cha Sai,commune,xã,28",
    )
    errors = await assert_invalid(
        registry_db,
        pre,
        None,
        ("pre", 5, "level"),
        ("pre", 6, "parent_code"),
        ("pre", 7, "code"),
        ("pre", 8, "code"),
        ("pre", 9, "type"),
        ("pre", 10, "code"),
        ("pre", 11, "name"),
        ("pre", 12, "parent_code"),
    )
    messages = {(e["row"], e["column"]): e["message"] for e in errors}
    assert "289" in messages[(6, "parent_code")]
    assert "leading zeros" in messages[(8, "code")]
    assert "repeats row 4" in messages[(10, "code")]


async def test_a_missing_column_is_reported_on_the_header_row(registry_db: Database) -> None:
    pre = csv_text("code,name,level,type", "28,Kiểm Tra,province,tỉnh")
    await assert_invalid(registry_db, pre, None, ("pre", 1, "parent_code"))
    post = csv_text(PRE_HEADER, "28,Kiểm Tra,province,tỉnh,")
    await assert_invalid(registry_db, csv_text(PRE_HEADER, *GOOD_PRE), post, ("post", 1, "merged_from"))


async def test_post_reform_faults_are_reported(registry_db: Database) -> None:
    pre = csv_text(PRE_HEADER, *GOOD_PRE, "28102,Xã Chia,commune,xã,281", "28103,Xã Bị Quên,commune,xã,281")
    post = csv_text(
        POST_HEADER,
        "28,Kiểm Tra,province,tỉnh,,28,",
        "281,Huyện Sau,district,huyện,28,281,",
        "28201,Xã A,commune,xã,28,28101;28102,",
        "28202,Xã B,commune,xã,28,28102;28999,28102",
        "28203,Xã C,commune,xã,28,,",
        "28204,Xã D,commune,xã,28,281,28101",
    )
    errors = await assert_invalid(
        registry_db,
        pre,
        post,
        ("post", 3, "level"),
        ("post", 7, "merged_from_partial"),
    )
    assert "abolished" in next(e["message"] for e in errors if e["column"] == "level")
    # Once each row is sound on its own, the mapping between the files is checked.
    post = csv_text(
        POST_HEADER,
        "28,Kiểm Tra,province,tỉnh,,28,",
        "28201,Xã A,commune,xã,28,28101;28102,",
        "28202,Xã B,commune,xã,28,28102;28999,28102",
        "28203,Xã C,commune,xã,28,,",
        "28204,Xã D,commune,xã,28,281,",
    )
    await assert_invalid(
        registry_db,
        pre,
        post,
        ("post", 3, "merged_from_partial"),  # 28102 also went into 28202, so it was split
        ("post", 4, "merged_from"),  # 28999 does not exist
        ("post", 5, "merged_from"),  # a commune from nothing
        ("post", 6, "merged_from"),  # 281 is a district
        ("pre", 6, "code"),  # 28103 went nowhere
    )


# The command line


def run_loader_process(database: TestDatabase, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REGISTRY_DATABASE_URL": database.urls["registry"], "REGISTRY_ENVIRONMENT": "test"}
    return subprocess.run(
        [sys.executable, "-m", "services.registry.commands.load_admin_units", *args],
        cwd=repo_root(),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.commits  # the command connects by itself
async def test_command_line_loads_once_and_reports_faults(
    database: TestDatabase, registry_db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pre, post, bad = tmp_path / "pre.csv", tmp_path / "post.csv", tmp_path / "bad.csv"
    files = ["--pre", str(pre), "--post", str(post), "--database-url", database.urls["registry"]]
    pre.write_text(
        csv_text(PRE_HEADER, "29,Dòng Lệnh,province,tỉnh,", "29101,Xã Lệnh,commune,xã,29"), "utf-8"
    )
    post.write_text(csv_text(POST_HEADER, "29,Dòng Lệnh,province,tỉnh,,29,"), "utf-8")
    bad.write_bytes(
        "code,name,level,type,parent_code\n29,Dòng Lệnh,province,tỉnh,\n".encode() + b"291,\xff,x,y,29\n"
    )

    assert await load_command.run(files) == 1
    stderr = capsys.readouterr().err
    assert "pre.csv: row 3, column parent_code" in stderr  # a commune under a province before 2025
    assert "nothing was written" in stderr
    assert await load_command.run(["--pre", str(bad), "--database-url", database.urls["registry"]]) == 1
    assert "bad.csv: row 3: not UTF-8" in capsys.readouterr().err
    assert await unit_count(registry_db, "29") == 0

    pre.write_text(
        csv_text(
            PRE_HEADER,
            "29,Dòng Lệnh,province,tỉnh,",
            "291,Huyện Lệnh,district,huyện,29",
            "29101,Xã Lệnh,commune,xã,291",
        ),
        "utf-8",
    )
    post.write_text(
        csv_text(POST_HEADER, "29,Dòng Lệnh,province,tỉnh,,29,", "29201,Xã Mới,commune,xã,29,29101,"), "utf-8"
    )
    assert await load_command.run([*files, "--dry-run"]) == 0
    assert "units: 4 inserted" in capsys.readouterr().out
    assert await unit_count(registry_db, "29") == 0
    assert await load_command.run(files) == 0
    assert "units: 4 inserted, 0 updated, 0 unchanged; successions: 2 inserted" in capsys.readouterr().out
    # The real entry point, as an operator runs it (database from REGISTRY_DATABASE_URL).
    second = run_loader_process(database, "--pre", str(pre), "--post", str(post))
    assert second.returncode == 0, second.stderr
    assert (
        "units: 0 inserted, 0 updated, 4 unchanged; successions: 0 inserted, 0 updated, 0 deleted"
        in second.stdout
    )
    assert await unit_count(registry_db, "29") == 4


def test_the_reference_files_ship_inside_the_package() -> None:
    reference = repo_root() / "services" / "registry" / "reference"
    for name in ("admin-units-pre2025.csv", "admin-units-2025.csv", "SOURCES.md", "__init__.py"):
        assert (reference / name).is_file(), name
    plan = loading.reference_plan()
    assert len(plan.units) == 239
    assert {unit.province_code for unit in plan.units} == {"22"}
