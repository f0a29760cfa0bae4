"""Bad sheets and bad uploads: one 422 naming every fault, never a 500, nothing written."""

from __future__ import annotations

import copy
import io
import zipfile
from typing import Any

import httpx
import pytest

from tests.scoring.criteria_support import (
    ADMIN,
    OFFICER_22,
    generic_tree,
    import_json,
    node,
    sheet_count,
    upload,
    workbook_rows,
    xlsx,
)


def _fields(response: httpx.Response) -> set[str]:
    assert response.headers["content-type"] == "application/problem+json"
    return {error["field"] for error in response.json()["errors"]}


async def test_every_fault_of_a_json_sheet_is_named_at_once(scoring_client: httpx.AsyncClient) -> None:
    before = await sheet_count(scoring_client)
    nodes = copy.deepcopy(await generic_tree(scoring_client, "26/2026"))
    del nodes[2]  # part C
    nodes[0]["max_points"] = "41"  # part A is worth 40 (and its criteria add up to 40)
    a1 = node(nodes, "A.1")
    a1["children"][1]["code"] = "A.1.1"  # a duplicate
    a1["options"] = [{"code": "a", "label": "Không", "points": 0}, {"code": "b", "label": "Có", "points": 1}]
    node(nodes, "A.2")["children"][0]["code"] = "A.9.1"  # not a child's code
    node(nodes, "A.2.2")["options"] = node(nodes, "A.2.2")["options"][:1]  # one option only
    node(nodes, "A.2.4")["options"][1]["points"] = "9"  # above the leaf's maximum of 4
    node(nodes, "A.3.3")["options"][2]["points"] = "2"  # no option reaches 3
    node(nodes, "A.1.5")["options"][0]["points"] = "0.5"  # mandatory, but nothing fails it
    node(nodes, "B.1.1")["max_points"] = "6"  # B.1's sub-criteria now add up to 16

    response = await import_json(scoring_client, ADMIN, "26/2026", 11, nodes)
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "/problems/validation-error"
    assert _fields(response) == {
        "body.nodes",  # part C is missing
        "body.nodes.0.max_points",  # A is 41: not 40, and not its criteria's 40
        "body.nodes.0.children.0.children.1.code",  # duplicate A.1.1
        "body.nodes.0.children.0.options",  # options on a criterion with sub-criteria
        "body.nodes.0.children.0.max_points",  # the duplicate is not a child of A.1: the rest add up to 12
        "body.nodes.0.children.1.children.0.code",  # A.9.1 under A.2
        "body.nodes.0.children.1.max_points",  # A.2's children no longer add up (A.9.1 is not one)
        "body.nodes.0.children.1.children.1.options",  # one option
        "body.nodes.0.children.1.children.3.options.1.points",  # 9 > 4
        "body.nodes.0.children.2.children.2.options",  # 3 unreachable
        "body.nodes.0.children.0.children.4.mandatory_for_3_star",  # cannot be failed
        "body.nodes.1.children.0.max_points",  # B.1's sub-criteria add up to 16, not 15
        "body.nodes.1.children.0.children.0.options",  # and no option of B.1.1 reaches its new 6
    }
    assert await sheet_count(scoring_client) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"criteria_version": "2099"}, "body.criteria_version"),
        ({"criteria_version": ""}, "body.criteria_version"),
        ({"product_set": 27}, "body.product_set"),
        ({"product_set": 0}, "body.product_set"),
        ({"product_set": True}, "body.product_set"),
        ({"product_set": "abc"}, "body.product_set"),
        ({"nodes": []}, "body.nodes"),
        ({"nodes": "A"}, "body.nodes"),
        ({"extra": 1}, "body.extra"),
    ],
)
async def test_bad_fields_of_an_import(
    scoring_client: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    before = await sheet_count(scoring_client)
    body = {
        "criteria_version": "148",
        "product_set": 1,
        "nodes": await generic_tree(scoring_client, "148"),
    } | change
    response = await scoring_client.post("/v1/score-sheets", json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert field in _fields(response)
    assert await sheet_count(scoring_client) == before


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("1e1000000", "max_points"), ("-5", "max_points"), ("0", "max_points"), ("2.555", "max_points"),
        ("NaN", "max_points"), (True, "max_points"), ("x" * 41, "code"), ("a\x00b", "title"), ("", "title"),
    ],
)  # fmt: skip
async def test_bad_values_of_a_node(scoring_client: httpx.AsyncClient, value: Any, field: str) -> None:
    nodes = copy.deepcopy(await generic_tree(scoring_client, "148"))
    node(nodes, "C.3.1")[field] = value
    response = await import_json(scoring_client, ADMIN, "148", 1, nodes)
    assert response.status_code == 422, response.text
    assert any(name.endswith(f".{field}") or name.endswith(".nodes") for name in _fields(response))


async def test_a_tree_too_deep_is_refused_before_it_is_parsed(scoring_client: httpx.AsyncClient) -> None:
    deep: dict[str, Any] = {"code": "A", "title": "A", "max_points": 40}
    current = deep
    for level in range(1, 400):
        child = {"code": "A" + ".1" * level, "title": "x", "max_points": 40}
        current["children"] = [child]
        current = child
    response = await import_json(scoring_client, ADMIN, "148", 1, [deep])
    assert response.status_code == 422
    assert "levels deep" in response.text


# Workbooks


async def test_every_faulty_row_of_a_workbook_is_named(scoring_client: httpx.AsyncClient) -> None:
    before = await sheet_count(scoring_client)
    rows = workbook_rows(await generic_tree(scoring_client, "26/2026"))
    header_offset = 2  # data rows start at row 2
    number = {(row[0], row[1], row[2]): index + header_offset for index, row in enumerate(rows)}
    a11 = number[("node", "A.1.1", "A.1")]
    rows[a11 - header_offset][4] = "abc"  # not a number
    b = number[("node", "B", None)]
    rows[b - header_offset][6] = "maybe"  # not a flag
    c31_a = number[("option", "a", "C.3.1")]
    rows[c31_a - header_offset][2] = "Z.1"  # an orphan option
    rows.append(["node", "A.9.1", "A.9", "Mồ côi", 1, None])  # an orphan node
    rows.append(["criterion", "A.4", "A", "?", 1, None])  # an unknown kind
    rows.append(["option", "z", "A.1.2", "", None, 1])  # an option without a label
    rows.append(["node", "B.3", "B", "Điểm", None, 2])  # a node with points, no maximum
    orphan, kind, label, points = (len(rows) - 4 + i + header_offset for i in range(4))
    response = await upload(scoring_client, OFFICER_22, xlsx(rows))
    assert response.status_code == 422, response.text
    assert _fields(response) >= {
        f"file.rows.{a11}.max_points",
        f"file.rows.{b}.mandatory_for_3_star",
        f"file.rows.{c31_a}.parent",
        f"file.rows.{orphan}.parent",
        f"file.rows.{kind}.kind",
        f"file.rows.{label}.title",
        f"file.rows.{points}.points",
        f"file.rows.{points}.max_points",
    }
    assert await sheet_count(scoring_client) == before


async def test_a_well_formed_workbook_of_a_bad_sheet_names_its_rows(
    scoring_client: httpx.AsyncClient,
) -> None:
    rows = workbook_rows(await generic_tree(scoring_client, "148"))
    c31 = next(index for index, row in enumerate(rows) if row[:2] == ["node", "C.3.1"])
    rows[c31][4] = 4.5
    response = await upload(scoring_client, ADMIN, xlsx(rows), "148", 4)
    assert response.status_code == 422
    # C.3.1 (a row after C.3) is now worth 4.5: C.3 no longer adds up, no option of C.3.1 reaches 4.5,
    # and its best option (three rows further) is worth more than 4.5.
    assert _fields(response) == {
        f"file.rows.{c31 + 2}.options",
        f"file.rows.{c31 + 1}.max_points",
        f"file.rows.{c31 + 5}.points",
    }


async def test_a_workbook_without_the_columns_is_refused(scoring_client: httpx.AsyncClient) -> None:
    response = await upload(scoring_client, ADMIN, xlsx([["A", "x"]], header=["code", "title"]))
    assert response.status_code == 422
    assert _fields(response) == {"file.header"}
    assert "kind" in response.json()["errors"][0]["message"]


def _zip(parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "content",
    [
        b"plain text, not a workbook",
        _zip({"word/document.xml": b"<w/>"}),
        _zip(
            {
                "xl/workbook.xml": b'<!DOCTYPE x [<!ENTITY a "aaaa">]><workbook><sheets><sheet/></sheets></workbook>'
            }
        ),
        _zip({"xl/workbook.xml": b"<workbook><sheets><sheet name='x'/></sheets></workbook>"}),
    ],
    ids=["text", "zip of something else", "dtd", "broken workbook"],
)
async def test_hostile_or_broken_files_are_refused(scoring_client: httpx.AsyncClient, content: bytes) -> None:
    before = await sheet_count(scoring_client)
    response = await upload(scoring_client, ADMIN, content)
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "/problems/file-refused"
    assert _fields_of_problem(response) == "file"
    assert await sheet_count(scoring_client) == before


def _fields_of_problem(response: httpx.Response) -> str:
    field: str = response.json()["field"]
    return field


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"product_set": "11"}, "body.criteria_version"),
        ({"criteria_version": "26-2026", "product_set": "27"}, "body.product_set"),
        ({"criteria_version": "26-2026", "product_set": "x"}, "body.product_set"),
        ({"criteria_version": "2099"}, "body.criteria_version"),
    ],
)
async def test_bad_form_fields_of_an_upload(
    scoring_client: httpx.AsyncClient, data: dict[str, str], field: str
) -> None:
    rows = workbook_rows(await generic_tree(scoring_client, "26/2026"))
    response = await scoring_client.post(
        "/v1/score-sheets/import", files={"file": ("s.xlsx", xlsx(rows))}, data=data, headers=ADMIN
    )
    assert response.status_code == 422, response.text
    assert field in _fields(response)


async def test_an_upload_without_a_file_or_not_multipart(scoring_client: httpx.AsyncClient) -> None:
    no_file = await scoring_client.post(
        "/v1/score-sheets/import",
        data={"criteria_version": "148"},
        files={"other": ("x", b"1")},
        headers=ADMIN,
    )
    assert no_file.status_code == 422
    assert "body.file" in _fields(no_file)
    as_json = await scoring_client.post(
        "/v1/score-sheets/import", json={"criteria_version": "148"}, headers=ADMIN
    )
    assert as_json.status_code == 415
    assert as_json.json()["type"] == "/problems/unsupported-file-type"


async def test_an_upload_over_the_body_limit_is_a_413(scoring_client: httpx.AsyncClient) -> None:
    response = await upload(scoring_client, ADMIN, b"\0" * (2 * 1024 * 1024))
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/product-sets", {"criteria_version": "2099"}, "query.criteria_version"),
        (
            "/v1/product-sets",
            {"criteria_version": "148+1489"},
            "query.criteria_version",
        ),  # "+" read as a space
        ("/v1/product-sets", {"cursor": "bm90LWEtY3Vyc29y"}, "query.cursor"),
        ("/v1/score-sheets", {"criteria_version": "26/2027"}, "query.criteria_version"),
        ("/v1/score-sheets", {"product_set": "27"}, "query.product_set"),
        ("/v1/score-sheets", {"status": "archived"}, "query.status"),
        ("/v1/score-sheets", {"cursor": "bm90LWEtY3Vyc29y"}, "query.cursor"),
        ("/v1/score-sheets/not-a-uuid", {}, "path.sheet_id"),
    ],
)
async def test_bad_query_parameters_name_the_parameter(
    scoring_client: httpx.AsyncClient, path: str, params: dict[str, str], field: str
) -> None:
    query = "&".join(f"{name}={value}" for name, value in params.items())  # sent unencoded, as typed
    response = await scoring_client.get(f"{path}?{query}" if query else path)
    assert response.status_code == 422, response.text
    assert field in response.text
