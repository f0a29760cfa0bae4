"""Criteria over HTTP: versions, product sets (the registry's classification), sheets, imports, publishing."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.products.classification import PRODUCT_SETS, classify
from services.registry.products.classification import VERSIONS as CLASSIFICATIONS
from services.scoring.criteria import loading, service
from services.scoring.criteria.arithmetic import score_card
from services.scoring.criteria.errors import ScoreSheetNotFound
from services.scoring.criteria.validation import NodeDraft
from services.scoring.criteria.versions import VERSIONS
from tests.scoring.criteria_support import (
    ADMIN,
    OFFICER_01,
    OFFICER_22,
    generic_tree,
    import_json,
    node,
    retitled,
    scoring_session,
    upload,
    workbook_rows,
    xlsx,
)


async def test_the_versions_and_their_rules_are_public(scoring_client: httpx.AsyncClient) -> None:
    listed = await scoring_client.get("/v1/criteria-versions")
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [item["code"] for item in items] == ["1048", "1048+781", "148", "148+1489", "26/2026"]
    by_code = {item["code"]: item for item in items}
    assert by_code["1048"]["rounding_rule"] == "1048-integer-as-half-open"
    assert by_code["1048"]["part_maxima"] == {"A": 35, "B": 25, "C": 40}
    assert by_code["26/2026"]["deciding_levels"] == {"3": "province", "4": "province", "5": "central"}
    assert by_code["148"]["deciding_levels"]["3"] == "district"
    assert by_code["148+1489"]["levels"] == ["commune_precheck", "province", "central"]
    assert by_code["26/2026"]["bands"][-1] == {
        "star": 5,
        "lower": "90",
        "upper": "100",
        "upper_inclusive": True,
    }
    assert Decimal(by_code["26/2026"]["default_quorum"]) == Decimal("0.75")


@pytest.mark.parametrize("key", ["26-2026", "26/2026"])
async def test_one_version_by_slug_or_code(scoring_client: httpx.AsyncClient, key: str) -> None:
    response = await scoring_client.get(f"/v1/criteria-versions/{key.replace('/', '%2F')}")
    if "/" in key:
        # An encoded slash is a path separator to the router: the code goes in queries, the slug in paths.
        assert response.status_code == 404
        return
    assert response.status_code == 200
    body = response.json()
    assert (body["code"], body["slug"], body["classification"]) == ("26/2026", "26-2026", "26/2026")
    assert [s["number"] for s in body["product_sets"]] == list(range(1, 27))
    assert body["product_sets"][10]["group_key"] == "tea"


async def test_an_unknown_version_is_a_404(scoring_client: httpx.AsyncClient) -> None:
    response = await scoring_client.get("/v1/criteria-versions/2099")
    assert response.status_code == 404
    assert response.json()["type"] == "/problems/criteria-version-not-found"


@pytest.mark.parametrize("code", list(VERSIONS))
async def test_product_sets_agree_with_the_registry_classification(
    scoring_client: httpx.AsyncClient, code: str
) -> None:
    """One source: scoring's product_set table (through its API) places every set as the registry does."""
    response = await scoring_client.get(
        "/v1/product-sets", params={"criteria_version": VERSIONS[code].slug, "limit": 200}
    )
    assert response.status_code == 200
    classification = VERSIONS[code].classification
    registry = CLASSIFICATIONS[classification]
    expected = []
    for number, product_set in sorted(PRODUCT_SETS.items()):
        group, sector = classify(number, classification)
        expected.append({
            "criteria_version": code, "number": number, "name": product_set.name,
            "group_key": group, "group_name": registry.groups[group].name,
            "sector_key": sector, "sector_name": registry.sectors[sector],
        })  # fmt: skip
    assert response.json() == {"items": expected, "next_cursor": None}
    detail = await scoring_client.get(f"/v1/criteria-versions/{VERSIONS[code].slug}")
    assert detail.json()["product_sets"] == expected


async def test_product_sets_page_through_every_version(scoring_client: httpx.AsyncClient) -> None:
    seen: list[tuple[str, int]] = []
    cursor = None
    while True:
        response = await scoring_client.get("/v1/product-sets", params={"limit": 40, "cursor": cursor})
        assert response.status_code == 200
        seen += [(item["criteria_version"], item["number"]) for item in response.json()["items"]]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 130 == len(set(seen))


@pytest.mark.parametrize("code", list(VERSIONS))
async def test_every_version_ships_a_published_generic_sheet(
    scoring_client: httpx.AsyncClient, code: str
) -> None:
    listed = await scoring_client.get("/v1/score-sheets", params={"criteria_version": code})
    (sheet,) = listed.json()["items"]
    assert (sheet["source"], sheet["status"], sheet["product_set"], sheet["sheet_version"]) == (
        "generic", "published", None, 1,
    )  # fmt: skip
    nodes = await generic_tree(scoring_client, code)
    maxima = {part["code"]: Decimal(part["max_points"]) for part in nodes}
    assert maxima == {part: Decimal(points) for part, points in VERSIONS[code].part_maxima.items()}
    titles = {child["title"] for part in nodes for child in part["children"]}
    assert {"Tổ chức sản xuất", "Phát triển sản phẩm", "Sức mạnh cộng đồng", "Tiếp thị",
            "Câu chuyện về sản phẩm", "Tiêu chuẩn sản phẩm"} <= titles  # fmt: skip
    async with scoring_session(scoring_client) as session:
        tree = await service.sheet_tree(session, sheet_id=uuid.UUID(sheet["id"]))
    assert score_card(tree, tree.best_choices()).total == Decimal(100)
    assert any(n.mandatory_for_3_star for n in tree.nodes)
    assert any(n.eliminating for n in tree.nodes)


async def test_a_json_import_is_a_draft_until_published(scoring_client: httpx.AsyncClient) -> None:
    nodes = retitled(await generic_tree(scoring_client, "26/2026"), "Tổ chức sản xuất (bộ 11)")
    created = await import_json(scoring_client, OFFICER_22, "26/2026", 11, nodes)
    assert created.status_code == 201, created.text
    sheet = created.json()
    assert created.headers["location"] == f"/v1/score-sheets/{sheet['id']}"
    assert (sheet["status"], sheet["source"], sheet["province_code"], sheet["imported_by"]) == (
        "draft", "imported", "22", "officer-22",
    )  # fmt: skip
    assert sheet["nodes"] == nodes  # the tree comes back as it was sent (and imports again as is)

    public = await scoring_client.get(f"/v1/score-sheets/{sheet['id']}")
    assert public.status_code == 404
    listed = await scoring_client.get(
        "/v1/score-sheets", params={"product_set": 11, "criteria_version": "26-2026"}
    )
    assert [item["source"] for item in listed.json()["items"]] == ["generic"]

    published = await scoring_client.post(f"/v1/score-sheets/{sheet['id']}/publish", headers=OFFICER_22)
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
    listed = await scoring_client.get(
        "/v1/score-sheets", params={"product_set": 11, "criteria_version": "26-2026"}
    )
    assert listed.json()["items"][0]["id"] == sheet["id"], "newest first"
    again = await scoring_client.post(f"/v1/score-sheets/{sheet['id']}/publish", headers=ADMIN)
    assert again.status_code == 409
    assert again.json()["current_state"] == "published"

    audit = await scoring_client.get(f"/v1/audit/{sheet['id']}", headers=ADMIN)
    # One transaction in this test, so one timestamp: compared regardless of order.
    entries = {entry["action"]: entry for entry in audit.json()["items"]}
    assert {(action, e["actor_sub"], e["province_code"]) for action, e in entries.items()} == {
        ("score_sheet.imported", "officer-22", "22"), ("score_sheet.published", "officer-22", "22"),
    }  # fmt: skip
    assert entries["score_sheet.imported"]["detail"]["format"] == "json"
    assert entries["score_sheet.imported"]["detail"]["checksum"] == sheet["checksum"]


async def test_a_changed_sheet_is_the_next_version_and_an_unchanged_one_is_refused(
    scoring_client: httpx.AsyncClient,
) -> None:
    nodes = await generic_tree(scoring_client, "148+1489")
    first = await import_json(scoring_client, ADMIN, "148+1489", 3, nodes)
    assert first.status_code == 201
    same = await import_json(scoring_client, ADMIN, "148-1489", 3, nodes)
    assert same.status_code == 409
    assert same.json()["sheet_id"] == first.json()["id"]
    changed = await import_json(scoring_client, ADMIN, "148+1489", 3, retitled(nodes, "Tổ chức sản xuất mới"))
    assert changed.status_code == 201
    assert (first.json()["sheet_version"], changed.json()["sheet_version"]) == (1, 2)
    # A province numbers in the same sequence, and its own identical content is not "unchanged".
    provincial = await import_json(scoring_client, OFFICER_01, "148+1489", 3, nodes)
    assert provincial.status_code == 201
    assert provincial.json()["sheet_version"] == 3
    generic = await import_json(scoring_client, ADMIN, "148+1489", None, retitled(nodes, "Chung"))
    assert generic.json()["sheet_version"] == 2  # after the shipped generic sheet


async def test_a_workbook_imports_the_same_sheet_as_json(scoring_client: httpx.AsyncClient) -> None:
    nodes = await generic_tree(scoring_client, "1048+781")
    response = await upload(scoring_client, OFFICER_22, xlsx(workbook_rows(nodes)), "1048+781", 21)
    assert response.status_code == 201, response.text
    sheet = response.json()
    assert sheet["nodes"] == nodes
    assert (sheet["criteria_version"], sheet["product_set"], sheet["province_code"]) == ("1048+781", 21, "22")
    as_json = await import_json(scoring_client, OFFICER_22, "1048+781", 21, nodes)
    assert as_json.status_code == 409, "the same content in JSON is the same sheet"
    audit = await scoring_client.get(f"/v1/audit/{sheet['id']}", headers=OFFICER_22)
    assert audit.json()["items"][0]["detail"]["format"] == "xlsx"


async def test_a_workbook_in_any_row_order_with_vietnamese_flags(scoring_client: httpx.AsyncClient) -> None:
    nodes = await generic_tree(scoring_client, "148")
    rows = workbook_rows(nodes)
    for row in rows:
        if row[0] == "node" and row[6] == "yes":
            row[6] = "Có"
    shuffled = rows[::-1]  # children before parents, options before their criterion
    response = await upload(scoring_client, ADMIN, xlsx(shuffled), "148", None)
    assert response.status_code == 201, response.text
    sheet = response.json()
    assert {n["code"] for n in sheet["nodes"]} == {"A", "B", "C"}
    assert node(sheet["nodes"], "A.1.5")["mandatory_for_3_star"] is True
    # Siblings keep the order of their rows: reversed here.
    assert [n["code"] for n in sheet["nodes"]] == ["C", "B", "A"]


async def test_an_import_retried_with_its_idempotency_key_is_replayed(
    scoring_client: httpx.AsyncClient,
) -> None:
    nodes = retitled(await generic_tree(scoring_client, "26/2026"), "Lần thử")
    headers = ADMIN | {"Idempotency-Key": "sheet-import-0001"}
    body = {"criteria_version": "26/2026", "product_set": 5, "nodes": nodes}
    first = await scoring_client.post("/v1/score-sheets", json=body, headers=headers)
    second = await scoring_client.post("/v1/score-sheets", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json()["id"] == first.json()["id"]

    content = xlsx(workbook_rows(retitled(nodes, "Lần thử XLSX")))
    upload_headers = ADMIN | {"Idempotency-Key": "sheet-upload-0001"}
    sent = [await upload(scoring_client, upload_headers, content, "26/2026", 6) for _ in range(2)]
    assert [r.status_code for r in sent] == [201, 201]
    assert sent[1].headers["idempotent-replayed"] == "true"
    assert sent[1].json()["id"] == sent[0].json()["id"]
    other = await upload(scoring_client, upload_headers, content, "26/2026", 7)
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-key-reused"


async def test_submission_pins_the_newest_published_sheet_and_marks_it_used(
    scoring_client: httpx.AsyncClient,
) -> None:
    nodes = await generic_tree(scoring_client, "26/2026")
    generic_id = (
        await scoring_client.get("/v1/score-sheets", params={"criteria_version": "26-2026"})
    ).json()["items"][0]["id"]
    async with scoring_session(scoring_client) as session:
        pinned = await service.sheet_for_submission(session, criteria_version="26/2026", product_set=11)
    assert str(pinned.id) == generic_id
    assert pinned.used is True

    national = (await import_json(scoring_client, ADMIN, "26/2026", 11, retitled(nodes, "Quốc gia"))).json()
    provincial = (
        await import_json(scoring_client, OFFICER_22, "26/2026", 11, retitled(nodes, "Tỉnh 22"))
    ).json()
    async with scoring_session(scoring_client) as session:
        still = await service.sheet_for_submission(session, criteria_version="26-2026", product_set=11)
    assert str(still.id) == generic_id, "drafts are never pinned"

    for sheet in (national, provincial):
        await scoring_client.post(f"/v1/score-sheets/{sheet['id']}/publish", headers=ADMIN)
    async with scoring_session(scoring_client) as session:
        in_22 = await service.sheet_for_submission(
            session, criteria_version="26/2026", product_set=11, province_code="22"
        )
        elsewhere = await service.sheet_for_submission(
            session, criteria_version="26/2026", product_set=11, province_code="01"
        )
        other_set = await service.sheet_for_submission(session, criteria_version="26/2026", product_set=12)
        tree = await service.sheet_tree(session, sheet_id=in_22.id)
    assert (str(in_22.id), str(elsewhere.id), str(other_set.id)) == (
        provincial["id"],
        national["id"],
        generic_id,
    )
    assert tree.sheet_id == in_22.id
    assert tree.by_code["A.1"].title == "Tỉnh 22"
    read = await scoring_client.get(f"/v1/score-sheets/{provincial['id']}")
    assert read.json()["used"] is True


async def test_submission_refuses_unknown_versions_sets_and_sheets(scoring_client: httpx.AsyncClient) -> None:
    async with scoring_session(scoring_client) as session:
        with pytest.raises(Exception, match="criteria version") as unknown:
            await service.sheet_for_submission(session, criteria_version="2099", product_set=1)
        assert getattr(unknown.value, "status", None) == 404
        with pytest.raises(Exception, match="product sets") as bad_set:
            await service.sheet_for_submission(session, criteria_version="148", product_set=27)
        assert getattr(bad_set.value, "status", None) == 422
        with pytest.raises(ScoreSheetNotFound):
            await service.sheet_tree(session, sheet_id=uuid.uuid4())


async def _reference_counts(session: AsyncSession) -> tuple[int, ...]:
    tables = ("criteria_version", "product_set", "score_sheet", "sheet_node", "sheet_option")
    return tuple([await session.scalar(text(f"SELECT count(*) FROM scoring.{table}")) for table in tables])


async def test_loading_the_reference_data_again_changes_nothing(scoring_client: httpx.AsyncClient) -> None:
    async with scoring_session(scoring_client) as session:
        before = await _reference_counts(session)
        assert before[:3] == (5, 130, 5)
        await (await session.connection()).run_sync(loading.load_reference)
        assert await _reference_counts(session) == before


async def test_a_changed_generic_sheet_loads_as_the_versions_next_sheet(
    scoring_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = loading.generic_nodes

    def amended(code: str) -> list[NodeDraft]:
        nodes = shipped(code)
        if code == "148":
            nodes[1].title = "Tổ chức sản xuất (sửa đổi)"
        return nodes

    monkeypatch.setattr(loading, "generic_nodes", amended)
    async with scoring_session(scoring_client) as session:
        await (await session.connection()).run_sync(loading.load_reference)
        pinned = await service.sheet_for_submission(session, criteria_version="148", product_set=1)
        tree = await service.sheet_tree(session, sheet_id=pinned.id)
    assert (pinned.source, pinned.sheet_version) == ("generic", 2)
    assert tree.by_code["A.1"].title == "Tổ chức sản xuất (sửa đổi)"
    listed = await scoring_client.get("/v1/score-sheets", params={"source": "generic", "limit": 20})
    assert sorted((s["criteria_version"], s["sheet_version"]) for s in listed.json()["items"]) == [
        ("1048", 1), ("1048+781", 1), ("148", 1), ("148", 2), ("148+1489", 1), ("26/2026", 1),
    ]  # fmt: skip
