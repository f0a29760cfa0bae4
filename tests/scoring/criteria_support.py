"""Helpers of the criteria tests: the shipped generic trees, sheets as JSON bodies and as workbooks."""

from __future__ import annotations

import copy
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import openpyxl
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import auth

HEADER = ["kind", "code", "parent", "title", "max_points", "points", "mandatory_for_3_star", "eliminating"]
ADMIN = auth("admin", sub="admin-1")
OFFICER_22 = auth("province_officer", "22", sub="officer-22")
OFFICER_01 = auth("province_officer", "01", sub="officer-01")


async def generic_tree(client: httpx.AsyncClient, criteria_version: str) -> list[dict[str, Any]]:
    """The node tree of the version's shipped generic sheet, as GET /v1/score-sheets/{id} gives it."""
    listed = await client.get(
        "/v1/score-sheets", params={"criteria_version": criteria_version, "source": "generic"}
    )
    assert listed.status_code == 200, listed.text
    (summary,) = listed.json()["items"]
    sheet = await client.get(f"/v1/score-sheets/{summary['id']}")
    assert sheet.status_code == 200, sheet.text
    nodes: list[dict[str, Any]] = sheet.json()["nodes"]
    return nodes


def retitled(nodes: list[dict[str, Any]], title: str) -> list[dict[str, Any]]:
    """A copy of ``nodes`` whose first criterion has another title (a changed sheet, still valid)."""
    changed = copy.deepcopy(nodes)
    changed[0]["children"][0]["title"] = title
    return changed


def node(nodes: list[dict[str, Any]], code: str) -> dict[str, Any]:
    """The node with ``code`` in a tree."""
    for each in nodes:
        if each["code"] == code:
            return each
        if code.startswith(f"{each['code']}."):
            return node(each["children"], code)
    raise KeyError(code)


async def import_json(
    client: httpx.AsyncClient, headers: dict[str, str], criteria_version: str, product_set: int | None,
    nodes: list[dict[str, Any]],
) -> httpx.Response:  # fmt: skip
    """POST /v1/score-sheets."""
    body = {"criteria_version": criteria_version, "product_set": product_set, "nodes": nodes}
    return await client.post("/v1/score-sheets", json=body, headers=headers)


def workbook_rows(nodes: list[dict[str, Any]], parent: str | None = None) -> list[list[Any]]:
    """The rows of a sheet workbook (without the header), depth first."""
    rows: list[list[Any]] = []
    for each in nodes:
        rows.append(["node", each["code"], parent, each["title"], float(each["max_points"]), None,
                     "yes" if each["mandatory_for_3_star"] else "", "yes" if each["eliminating"] else None])  # fmt: skip
        rows.extend(
            ["option", o["code"], each["code"], o["label"], None, float(o["points"])] for o in each["options"]
        )
        rows.extend(workbook_rows(each["children"], each["code"]))
    return rows


def xlsx(rows: list[list[Any]], header: list[str] | None = None) -> bytes:
    """A one-sheet workbook of ``rows`` under ``header``."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header or HEADER)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def upload(
    client: httpx.AsyncClient, headers: dict[str, str], content: bytes, criteria_version: str = "26-2026",
    product_set: int | None = 11,
) -> httpx.Response:  # fmt: skip
    """POST /v1/score-sheets/import."""
    data = {"criteria_version": criteria_version}
    if product_set is not None:
        data["product_set"] = str(product_set)
    return await client.post(
        "/v1/score-sheets/import", files={"file": ("sheet.xlsx", content)}, data=data, headers=headers
    )


@asynccontextmanager
async def scoring_session(client: httpx.AsyncClient) -> AsyncIterator[AsyncSession]:
    """A session of the in-process scoring app, in the test's transaction (rolled back after the test)."""
    database = client._transport.app.state.db  # type: ignore[attr-defined]
    async with database.sessionmaker() as session, session.begin():
        yield session


async def sheet_count(client: httpx.AsyncClient) -> int:
    """How many sheets an admin sees (every one)."""
    listed = await client.get("/v1/score-sheets", params={"limit": 200}, headers=ADMIN)
    assert listed.status_code == 200, listed.text
    return len(listed.json()["items"])
