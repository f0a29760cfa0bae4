"""Who may do what with criteria: reads are public, drafts are their province's, only staff import."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import auth
from tests.scoring.criteria_support import ADMIN, OFFICER_22, generic_tree, import_json, retitled, upload

COUNCIL = "9d2e7b61-4a3c-4f85-b0d9-6e1c2a7f3b44"
PRODUCER = "3f0c9a4e-8b1d-4c52-9e7a-2d6f1b8c0a11"
# (name, role, scope claim); None: no token.
CALLERS: list[tuple[str, str | None, str | None]] = [
    ("anonymous", None, None),
    ("producer", "producer", PRODUCER),
    ("commune officer", "commune_officer", "07090"),
    ("council member", "council_member", COUNCIL),
    ("partner", "partner", "client-1"),
    ("national", "national", "client-1"),
    ("service", "service", "stamps"),
    ("province officer 22", "province_officer", "22"),
    ("province officer 01", "province_officer", "01"),
    ("province officer, malformed claim", "province_officer", "2"),
    ("admin", "admin", None),
]
IMPORTERS = {"province officer 22", "province officer 01", "admin"}
DRAFT_22_READERS = {"province officer 22", "admin", "service"}


def _headers(role: str | None, claim: str | None) -> dict[str, str]:
    return auth(role, claim, sub=f"{role}-caller") if role else {}


ids = [name for name, _, _ in CALLERS]


@pytest.mark.parametrize(("name", "role", "claim"), CALLERS, ids=ids)
async def test_criteria_reads_are_public(
    scoring_client: httpx.AsyncClient, name: str, role: str | None, claim: str | None
) -> None:
    headers = _headers(role, claim)
    for path, params in [
        ("/v1/criteria-versions", {}),
        ("/v1/criteria-versions/148-1489", {}),
        ("/v1/product-sets", {"criteria_version": "26/2026"}),
        ("/v1/score-sheets", {"criteria_version": "148"}),
    ]:
        response = await scoring_client.get(path, params=params, headers=headers)
        assert response.status_code == 200, (path, response.text)
    generic = (await scoring_client.get("/v1/score-sheets", params={"criteria_version": "148"})).json()[
        "items"
    ][0]
    read = await scoring_client.get(f"/v1/score-sheets/{generic['id']}", headers=headers)
    assert read.status_code == 200
    assert read.json()["id"] == generic["id"]


@pytest.fixture
async def draft_22(scoring_client: httpx.AsyncClient) -> dict[str, Any]:
    """A draft sheet imported by an officer of province 22."""
    nodes = retitled(await generic_tree(scoring_client, "26/2026"), "Bản nháp tỉnh 22")
    response = await import_json(scoring_client, OFFICER_22, "26/2026", 13, nodes)
    assert response.status_code == 201, response.text
    sheet: dict[str, Any] = response.json()
    return sheet


@pytest.mark.parametrize(("name", "role", "claim"), CALLERS, ids=ids)
async def test_a_draft_is_seen_by_its_province_and_admins_only(
    scoring_client: httpx.AsyncClient,
    draft_22: dict[str, Any],
    name: str,
    role: str | None,
    claim: str | None,
) -> None:
    headers = _headers(role, claim)
    read = await scoring_client.get(f"/v1/score-sheets/{draft_22['id']}", headers=headers)
    listed = await scoring_client.get(
        "/v1/score-sheets", params={"criteria_version": "26/2026", "product_set": 13}, headers=headers
    )
    listed_ids = {item["id"] for item in listed.json()["items"]}
    if name in DRAFT_22_READERS:
        assert read.status_code == 200
        assert draft_22["id"] in listed_ids
    else:
        assert read.status_code == 404
        assert read.json()["type"] == "/problems/score-sheet-not-found"
        assert draft_22["id"] not in listed_ids
        assert listed_ids, "the published generic sheet is listed for everyone"


@pytest.mark.parametrize(("name", "role", "claim"), CALLERS, ids=ids)
async def test_only_admins_and_province_officers_import(
    scoring_client: httpx.AsyncClient, name: str, role: str | None, claim: str | None
) -> None:
    headers = _headers(role, claim)
    nodes = retitled(await generic_tree(scoring_client, "148"), f"Nhập bởi {name}")
    as_json = await import_json(scoring_client, headers, "148", 2, nodes)
    as_xlsx = await upload(scoring_client, headers, b"not even a workbook", "148", 2)
    if role is None:
        assert (as_json.status_code, as_xlsx.status_code) == (401, 401)
    elif name in IMPORTERS:
        assert as_json.status_code == 201, as_json.text
        assert as_json.json()["province_code"] == (claim if role == "province_officer" else None)
        assert as_xlsx.status_code == 422, "past the access check, the file itself is refused"
        assert as_xlsx.json()["type"] == "/problems/file-refused"
    else:
        assert (as_json.status_code, as_xlsx.status_code) == (403, 403)
        assert as_json.json()["type"] == "/problems/forbidden"


@pytest.mark.parametrize(("name", "role", "claim"), CALLERS, ids=ids)
async def test_who_publishes_a_provincial_draft(
    scoring_client: httpx.AsyncClient,
    draft_22: dict[str, Any],
    name: str,
    role: str | None,
    claim: str | None,
) -> None:
    response = await scoring_client.post(
        f"/v1/score-sheets/{draft_22['id']}/publish", headers=_headers(role, claim)
    )
    expected = {
        "anonymous": 401, "province officer 22": 200, "admin": 200,
        # Importers who may not see another province's draft are told it does not exist.
        "province officer 01": 404,
    }.get(name, 403)  # fmt: skip
    assert response.status_code == expected, response.text
    if expected == 200:
        assert response.json()["status"] == "published"


async def test_a_published_provincial_sheet_is_read_by_all_and_published_by_none_again(
    scoring_client: httpx.AsyncClient, draft_22: dict[str, Any]
) -> None:
    assert (
        await scoring_client.post(f"/v1/score-sheets/{draft_22['id']}/publish", headers=ADMIN)
    ).status_code == 200
    other_province = await scoring_client.post(
        f"/v1/score-sheets/{draft_22['id']}/publish", headers=auth("province_officer", "01")
    )
    assert other_province.status_code == 403, "it sees the published sheet but does not manage it"
    own = await scoring_client.post(f"/v1/score-sheets/{draft_22['id']}/publish", headers=OFFICER_22)
    assert own.status_code == 409
    assert own.json()["current_state"] == "published"
    anonymous = await scoring_client.get(f"/v1/score-sheets/{draft_22['id']}")
    assert anonymous.status_code == 200


async def test_a_national_draft_is_the_admins_own(scoring_client: httpx.AsyncClient) -> None:
    nodes = retitled(await generic_tree(scoring_client, "148"), "Bản nháp quốc gia")
    sheet = (await import_json(scoring_client, ADMIN, "148", 9, nodes)).json()
    assert sheet["province_code"] is None
    officer = await scoring_client.post(f"/v1/score-sheets/{sheet['id']}/publish", headers=OFFICER_22)
    assert officer.status_code == 404
    assert (
        await scoring_client.get(f"/v1/score-sheets/{sheet['id']}", headers=OFFICER_22)
    ).status_code == 404
    assert (
        await scoring_client.post(f"/v1/score-sheets/{sheet['id']}/publish", headers=ADMIN)
    ).status_code == 200


async def test_the_shipped_generic_sheets_cannot_be_published_again(
    scoring_client: httpx.AsyncClient,
) -> None:
    generic = (await scoring_client.get("/v1/score-sheets", params={"criteria_version": "148"})).json()[
        "items"
    ][0]
    response = await scoring_client.post(f"/v1/score-sheets/{generic['id']}/publish", headers=ADMIN)
    assert response.status_code == 409
    officer = await scoring_client.post(f"/v1/score-sheets/{generic['id']}/publish", headers=OFFICER_22)
    assert officer.status_code == 403
