"""Administrative units: the shipped Quảng Ninh data, successions and /v1/admin-units (real PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.admin_units import loading, service
from services.registry.admin_units.errors import AdminUnitNotFound, InvalidCommune
from tests.conftest import auth
from tests.support.isolation import Scope

REFORM = date(2025, 7, 1)
BEFORE = date(2024, 6, 1)
AFTER = date(2026, 1, 15)


@pytest.fixture
async def session(scope: Scope) -> AsyncIterator[AsyncSession]:
    """A session of the registry's, inside the test's transaction (the template holds the shipped data)."""
    assert scope.registry is not None
    async with scope.registry.sessionmaker() as session, session.begin():
        yield session


async def scalar(session: AsyncSession, sql: str) -> Any:
    return (await session.execute(text(sql))).scalar_one()


async def test_shipped_data_has_the_documented_counts(session: AsyncSession) -> None:
    units = "SELECT count(*) FROM registry.admin_unit WHERE"
    assert await scalar(session, f"{units} level = 'province'") == 1
    assert (
        await scalar(session, f"{units} level = 'province' AND valid_from IS NULL AND valid_to IS NULL") == 1
    )
    assert await scalar(session, f"{units} level = 'district' AND valid_to = '2025-07-01'") == 13
    assert await scalar(session, f"{units} level = 'district'") == 13
    assert await scalar(session, f"{units} level = 'commune' AND valid_from IS NULL") == 171
    assert await scalar(session, f"{units} level = 'commune' AND valid_to = '2025-07-01'") == 171
    assert await scalar(session, f"{units} level = 'commune' AND valid_from = '2025-07-01'") == 54
    assert await scalar(session, f"{units} level = 'commune' AND valid_to IS NULL") == 54
    assert (
        await scalar(
            session,
            """SELECT count(DISTINCT s.successor_id) FROM registry.admin_unit_succession s
                JOIN registry.admin_unit u ON u.id = s.successor_id WHERE s.partial""",
        )
        == 19
    )
    without_successor = await scalar(
        session,
        """SELECT count(*) FROM registry.admin_unit u WHERE u.level = 'commune'
            AND u.valid_to = '2025-07-01' AND NOT EXISTS
            (SELECT 1 FROM registry.admin_unit_succession s WHERE s.predecessor_id = u.id)""",
    )
    assert without_successor == 0
    # Post-2025 communes hang directly under the province: districts no longer exist.
    assert await scalar(session, f"{units} valid_from = '2025-07-01' AND parent_code <> '22'") == 0


async def test_every_district_was_abolished_into_the_province(session: AsyncSession) -> None:
    targets = (
        await session.execute(
            text(
                """SELECT DISTINCT p.code, p.valid_to FROM registry.admin_unit d
                    JOIN registry.admin_unit_succession s ON s.predecessor_id = d.id
                    JOIN registry.admin_unit p ON p.id = s.successor_id
                    WHERE d.level = 'district'"""
            )
        )
    ).all()
    assert [tuple(row) for row in targets] == [("22", None)]
    resolved = await service.current_successors(session, "193", AFTER)
    assert [(unit.code, unit.level, partial) for unit, partial in resolved] == [("22", "province", False)]


async def test_an_old_commune_code_resolves_to_its_successor(session: AsyncSession) -> None:
    resolved = await service.current_successors(session, "07075", AFTER)
    assert [(unit.code, unit.name, unit.unit_type, partial) for unit, partial in resolved] == [
        ("07090", "An Sinh", "phường", False)
    ]
    assert resolved[0][0].valid_from == REFORM


async def test_a_reused_code_names_two_distinct_units(session: AsyncSession) -> None:
    old = await service.resolve_commune(session, "07090", BEFORE)
    new = await service.resolve_commune(session, "07090", AFTER)
    assert old.id != new.id
    assert (old.name, old.unit_type, old.parent_code, old.valid_to) == ("Bình Dương", "phường", "205", REFORM)
    assert (new.name, new.unit_type, new.parent_code, new.valid_from) == ("An Sinh", "phường", "22", REFORM)
    # The day of the reform belongs to the new unit only (valid_to is exclusive).
    assert (await service.resolve_commune(session, "07090", REFORM)).id == new.id
    assert (await service.resolve_commune(session, "07090", date(2025, 6, 30))).id == old.id


async def test_a_partially_split_commune_resolves_to_several_successors(session: AsyncSession) -> None:
    resolved = await service.current_successors(session, "06886", AFTER, as_of=BEFORE)
    assert sorted((unit.code, unit.name, partial) for unit, partial in resolved) == [
        ("06799", "Hải Hòa", True),
        ("06886", "Hải Lạng", True),
        ("06970", "Ba Chẽ", True),
    ]
    # Without as_of a code valid on the date is that unit itself.
    itself = await service.current_successors(session, "06886", AFTER)
    assert [(unit.code, unit.valid_from, partial) for unit, partial in itself] == [("06886", REFORM, False)]


async def test_a_stored_unit_id_resolves_without_code_ambiguity(session: AsyncSession) -> None:
    old = await service.resolve_commune(session, "07093", BEFORE)
    resolved = await service.current_successors_of_unit(session, old.id, AFTER)
    assert [(unit.code, unit.name, partial) for unit, partial in resolved] == [
        ("07090", "An Sinh", True),
        ("07093", "Đông Triều", True),
    ]


async def test_resolution_on_an_earlier_date_stays_in_the_past(session: AsyncSession) -> None:
    resolved = await service.current_successors(session, "07075", BEFORE)
    assert [(unit.code, unit.name, unit.valid_to) for unit, _ in resolved] == [("07075", "An Sinh", REFORM)]


async def test_resolve_commune_rejects_superseded_unknown_and_non_commune_codes(
    session: AsyncSession,
) -> None:
    with pytest.raises(InvalidCommune) as superseded:
        await service.resolve_commune(session, "07075", AFTER)
    assert superseded.value.status == 422
    error = superseded.value.extensions["errors"][0]
    assert error["field"] == "body.commune_code"
    assert "07090" in error["message"]
    assert error["type"] == "commune_superseded"
    with pytest.raises(InvalidCommune) as district:
        await service.resolve_commune(session, "193", BEFORE, field="body.items.3.commune_code")
    assert district.value.extensions["errors"][0]["field"] == "body.items.3.commune_code"
    assert "district" in district.value.extensions["errors"][0]["message"]
    with pytest.raises(InvalidCommune) as unknown:
        await service.resolve_commune(session, "00000", AFTER)
    assert unknown.value.extensions["errors"][0]["type"] == "commune_unknown"
    with pytest.raises(InvalidCommune) as province:
        await service.resolve_commune(session, "22", AFTER)
    assert "province" in province.value.extensions["errors"][0]["message"]


async def test_current_successors_of_an_unknown_code_is_not_found(session: AsyncSession) -> None:
    with pytest.raises(AdminUnitNotFound):
        await service.current_successors(session, "00000", AFTER)


async def test_loading_again_changes_nothing(session: AsyncSession) -> None:
    fingerprint = """
        SELECT count(*), md5(string_agg(concat_ws('|', id, code, name, name_folded, level, unit_type, parent_code,
                                                   province_code, valid_from, valid_to, xmin), ',' ORDER BY id))
        FROM registry.admin_unit"""
    successions = """
        SELECT count(*), md5(string_agg(concat_ws('|', predecessor_id, successor_id, partial, xmin), ','
                                        ORDER BY predecessor_id, successor_id))
        FROM registry.admin_unit_succession"""
    before = (
        (await session.execute(text(fingerprint))).one(),
        (await session.execute(text(successions))).one(),
    )
    report = await loading.apply_plan(session, loading.reference_plan())
    await loading.load_reference_data(session)
    after = (await session.execute(text(fingerprint))).one(), (await session.execute(text(successions))).one()
    assert before == after
    assert before[0][0] == 239
    assert before[1][0] == 197
    assert not report.changed
    assert report.units_unchanged == 239


# HTTP


async def get(client: httpx.AsyncClient, url: str, **params: Any) -> httpx.Response:
    return await client.get(url, params={k: v for k, v in params.items() if v is not None})


async def test_search_ignores_diacritics_and_case(registry_client: httpx.AsyncClient) -> None:
    found = []
    for q in ("ha long", "Hạ Long", "HA LONG", "hạ  long"):
        response = await get(registry_client, "/v1/admin-units", q=q, province_code="22", on="2024-06-01")
        assert response.status_code == 200
        found.append([(item["code"], item["level"]) for item in response.json()["items"]])
    assert found[0] == found[1] == found[2] == found[3]
    assert found[0] == [("07012", "commune"), ("193", "district")]
    today = await get(registry_client, "/v1/admin-units", q="Hạ Long", province_code="22")
    assert [item["full_name"] for item in today.json()["items"]] == ["Phường Hạ Long"]
    substring = await get(registry_client, "/v1/admin-units", q="ạ lo", province_code="22", on="2026-01-15")
    assert [item["code"] for item in substring.json()["items"]] == ["06688"]


async def test_search_by_code_prefix_and_filters(registry_client: httpx.AsyncClient) -> None:
    by_code = await get(registry_client, "/v1/admin-units", q="0709", on="2026-01-15")
    assert [item["code"] for item in by_code.json()["items"]] == ["07090", "07093"]
    districts = await get(
        registry_client, "/v1/admin-units", level="district", province_code="22", on="2024-06-01"
    )
    assert len(districts.json()["items"]) == 13
    assert {item["status"] for item in districts.json()["items"]} == {"abolished"}
    none_today = await get(registry_client, "/v1/admin-units", level="district", province_code="22")
    assert none_today.json() == {"items": [], "next_cursor": None}
    children = await get(registry_client, "/v1/admin-units", parent_code="205", on="2024-06-01", limit=200)
    assert len(children.json()["items"]) == 19
    assert {item["parent_code"] for item in children.json()["items"]} == {"205"}
    wildcard = await get(registry_client, "/v1/admin-units", q="%", province_code="22")
    assert wildcard.json()["items"] == []


async def walk_pages(client: httpx.AsyncClient, limit: int, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        response = await get(client, "/v1/admin-units", limit=limit, cursor=cursor, **params)
        assert response.status_code == 200
        page = response.json()
        assert len(page["items"]) <= limit
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination never ended")


@pytest.mark.parametrize(("on", "expected"), [("2024-06-01", 185), ("2026-01-15", 55)])
async def test_pages_cover_every_unit_once(
    registry_client: httpx.AsyncClient, on: str, expected: int
) -> None:
    walked = await walk_pages(registry_client, 7, province_code="22", on=on)
    whole = (await get(registry_client, "/v1/admin-units", province_code="22", on=on, limit=200)).json()
    assert len(walked) == expected
    assert len({item["id"] for item in walked}) == expected
    assert walked == whole["items"]
    assert [(i["code"], i["id"]) for i in walked] == sorted((i["code"], i["id"]) for i in walked)


async def test_read_a_current_unit_with_its_predecessors(registry_client: httpx.AsyncClient) -> None:
    response = await registry_client.get("/v1/admin-units/07090")
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["full_name"], body["status"], body["valid_from"]) == (
        "An Sinh", "Phường An Sinh", "active", "2025-07-01",
    )  # fmt: skip
    assert [(p["code"], p["name"], p["partial"]) for p in body["predecessors"]] == [
        ("07075", "An Sinh", False),
        ("07084", "Việt Dân", False),
        ("07090", "Bình Dương", False),
        ("07093", "Đức Chính", True),
    ]
    assert body["successors"] == []


async def test_read_an_old_unit_at_an_earlier_date(registry_client: httpx.AsyncClient) -> None:
    commune = (await registry_client.get("/v1/admin-units/07075", params={"on": "2024-06-01"})).json()
    assert (commune["status"], commune["parent_code"], commune["valid_to"]) == (
        "superseded",
        "205",
        "2025-07-01",
    )
    assert [(s["code"], s["name"], s["partial"]) for s in commune["successors"]] == [
        ("07090", "An Sinh", False)
    ]
    district = (await registry_client.get("/v1/admin-units/193", params={"on": "2024-06-01"})).json()
    assert (district["status"], district["full_name"]) == ("abolished", "Thành phố Hạ Long")
    assert [(s["code"], s["level"]) for s in district["successors"]] == [("22", "province")]
    province = (await registry_client.get("/v1/admin-units/22")).json()
    assert (province["status"], province["valid_from"], province["valid_to"]) == ("active", None, None)


async def test_successors_route(registry_client: httpx.AsyncClient) -> None:
    old = (await registry_client.get("/v1/admin-units/07075/successors")).json()
    assert old["unit"]["code"] == "07075"
    assert old["unit"]["status"] == "superseded"
    assert [(i["code"], i["name"], i["partial"]) for i in old["items"]] == [("07090", "An Sinh", False)]
    split = (
        await registry_client.get("/v1/admin-units/06886/successors", params={"as_of": "2024-06-01"})
    ).json()
    assert [(i["code"], i["partial"]) for i in split["items"]] == [
        ("06799", True),
        ("06886", True),
        ("06970", True),
    ]
    current = (await registry_client.get("/v1/admin-units/06994/successors")).json()
    assert [(i["code"], i["unit_type"], i["partial"]) for i in current["items"]] == [
        ("06994", "đặc khu", False)
    ]


async def test_codes_valid_only_at_other_dates_are_404_naming_them(
    registry_client: httpx.AsyncClient,
) -> None:
    response = await registry_client.get("/v1/admin-units/07075", params={"on": "2026-01-15"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "/problems/admin-unit-not-found"
    assert "until 2025-07-01" in body["detail"]
    assert "/v1/admin-units/07075/successors" in body["detail"]
    assert body["periods"] == [
        {"name": "An Sinh", "level": "commune", "valid_from": None, "valid_to": "2025-07-01"}
    ]
    unknown = await registry_client.get("/v1/admin-units/00000")
    assert unknown.status_code == 404
    assert "ever" in unknown.json()["detail"]
    as_of = await registry_client.get("/v1/admin-units/06688/successors", params={"as_of": "2020-01-01"})
    assert as_of.json()["unit"]["name"] == "Hồng Hải"
    assert [i["code"] for i in as_of.json()["items"]] == ["06688"]
    unknown_successors = await registry_client.get("/v1/admin-units/00000/successors")
    assert unknown_successors.status_code == 404


@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        ("/v1/admin-units", {"on": "2025-02-30"}, "query.on"),
        ("/v1/admin-units", {"on": "yesterday"}, "query.on"),
        ("/v1/admin-units", {"on": "0"}, "query.on"),  # not read as a Unix timestamp
        ("/v1/admin-units/07090/successors", {"on": "1751328000"}, "query.on"),
        ("/v1/admin-units", {"level": "city"}, "query.level"),
        ("/v1/admin-units", {"limit": "0"}, "query.limit"),
        ("/v1/admin-units", {"limit": "201"}, "query.limit"),
        ("/v1/admin-units", {"cursor": "not a cursor"}, "query.cursor"),
        ("/v1/admin-units", {"cursor": "WzEsMl0"}, "query.cursor"),  # [1,2]: right arity, wrong types
        ("/v1/admin-units", {"parent_code": "12a"}, "query.parent_code"),
        ("/v1/admin-units", {"q": "x" * 101}, "query.q"),
        ("/v1/admin-units/07x90", {}, "path.code"),
        ("/v1/admin-units/07090", {"on": "2025-13-01"}, "query.on"),
        ("/v1/admin-units/07090/successors", {"as_of": "2026-01-01", "on": "2025-01-01"}, "query.as_of"),
    ],
)
async def test_invalid_query_is_422_naming_the_field(
    registry_client: httpx.AsyncClient, url: str, params: dict[str, str], field: str
) -> None:
    response = await registry_client.get(url, params=params)
    assert response.status_code == 422
    assert field in [error["field"] for error in response.json()["errors"]]


async def test_control_characters_in_q_are_refused(registry_client: httpx.AsyncClient) -> None:
    response = await registry_client.get("/v1/admin-units", params={"q": "h\x00a long"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.q"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        auth("producer", "5b3d5f0e-7f5c-4d7e-9a51-0e4b7f6a9c11"),
        auth("commune_officer", "07090"),
        auth("province_officer", "01"),
        auth("admin"),
        auth("partner", "client-1"),
    ],
)
async def test_reference_data_is_public_to_everyone(
    registry_client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for url in (
        "/v1/admin-units?province_code=22",
        "/v1/admin-units/07090",
        "/v1/admin-units/07075/successors",
    ):
        response = await registry_client.get(url, headers=headers)
        assert response.status_code == 200, url
        anonymous = await registry_client.get(url)
        assert response.json() == anonymous.json()


async def test_openapi_documents_the_404s(registry_client: httpx.AsyncClient) -> None:
    paths = (await registry_client.get("/openapi.json")).json()["paths"]
    assert "404" in paths["/v1/admin-units/{code}"]["get"]["responses"]
    assert "404" in paths["/v1/admin-units/{code}/successors"]["get"]["responses"]
    assert "404" not in paths["/v1/admin-units"]["get"]["responses"]
