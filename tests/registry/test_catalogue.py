"""The public catalogue: only active certificates, folded search, filters, every sort paged, the record."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.registry.catalogue.repository import MANY_PRODUCERS
from services.registry.catalogue.schemas import CatalogueProduct
from shared import clock
from shared.pagination import encode_cursor
from shared.schemas import Page
from tests import builders
from tests.builders import ADMIN, Producer, Unit
from tests.conftest import Run, auth, derived_template, in_process_registry
from tests.support.database import TestDatabase

NATIONAL_FIELDS = {
    "id", "name", "ocop_star", "description", "story", "images", "ocop_certificate_number", "issued_on",
    "expiry_date", "is_national", "type", "manufacturer",
}  # fmt: skip
OWN_FIELDS = {"name_en", "product_code", "product_set", "gtin", "entity_type", "commune", "province"}
MANUFACTURER_FIELDS = {"name", "representative", "address", "phone_number", "email"}
TODAY = clock.today()
PUBLIC = ("Rượu ba kích Ba Chẽ", "Rượu mơ Yên Tử", "Mật ong rừng", "Chả mực Hạ Long", "Trà hoa vàng")
HIDDEN = {
    "lapsed": "Rượu ba kích hết hạn",
    "revoked": "Rượu ba kích thu hồi",
    "run_out": "Rượu ba kích quá hạn",
    "idea": "Rượu ba kích ý tưởng",
}
ELSEWHERE = "Rượu ba kích Vân Đồn"
# Every test here reads one catalogue, built once per run into a template (it takes some thirty
# requests); the catalogue is read outside any transaction, so it sees only committed rows.
pytestmark = pytest.mark.template("catalogue")


async def _listed(
    client: httpx.AsyncClient, owner: Producer, name: str, product_set: int = 15, **certificate: Any
) -> None:
    await builders.certified_product(
        client, owner, name=name, product_set=product_set, description=f"Mô tả {name}",
        story="<p>Câu chuyện sản phẩm</p>", **certificate,
    )  # fmt: skip


async def _fill(database: TestDatabase) -> None:
    """A commune with a cooperative and an enterprise, five public products and four that are not;
    and one public product in another province."""
    async for client, db in in_process_registry(database):
        unit = await builders.unit(db, commune_name="Xã Đồng Rui")
        cooperative = await builders.producer(
            client, db, unit, entity_type="cooperative", legal_name="Hợp tác xã Lâm sản Ba Chẽ"
        )
        enterprise = await builders.producer(
            client, db, unit, entity_type="enterprise", legal_name="Công ty TNHH Hải sản Vân Đồn"
        )

        listed = functools.partial(_listed, client)
        public = [
            (cooperative, 15, 4, TODAY - timedelta(days=400)),
            (cooperative, 15, 3, TODAY - timedelta(days=30)),
            (cooperative, 4, 3, TODAY - timedelta(days=700)),
            (enterprise, 8, 5, TODAY - timedelta(days=200)),
            (enterprise, 18, 5, TODAY - timedelta(days=10)),
        ]
        for name, (owner, product_set, star, issued_on) in zip(PUBLIC, public, strict=True):
            await listed(owner, name, product_set, star=star, issued_on=issued_on)
        # Its certificate expired (an event from scoring); another was revoked.
        await listed(
            cooperative,
            HIDDEN["lapsed"],
            star=3,
            issued_on=TODAY - timedelta(days=4 * 365),
            then=("expired",),
        )
        await listed(enterprise, HIDDEN["revoked"], issued_on=TODAY - timedelta(days=100), then=("revoked",))
        # Still marked active, but its 36 months ran out and no expiry event has come yet.
        await listed(enterprise, HIDDEN["run_out"], issued_on=TODAY - timedelta(days=3 * 365 + 5))
        # Never certified.
        await builders.product(
            client,
            cooperative,
            headers=ADMIN,
            name=HIDDEN["idea"],
            product_set=15,
            status="ready_for_evaluation",
        )
        faraway = await builders.producer(client, db, legal_name="Hợp tác xã Ngọc trai Vân Đồn")
        await listed(faraway, ELSEWHERE)


@pytest.fixture(scope="session")
def catalogue_template(pg_server: str, run: Run, base_template: TestDatabase) -> TestDatabase:
    """The base template and the catalogue every test here reads."""
    return derived_template(pg_server, run, base_template, "catalogue", _fill)


@dataclass
class Catalogue:
    """The template's catalogue: its commune, product ids by name, and the province of the one elsewhere."""

    unit: Unit
    public: dict[str, str]
    hidden: dict[str, str]
    elsewhere: dict[str, str]
    faraway_province: str


@pytest.fixture
async def catalogue(db: asyncpg.Connection) -> Catalogue:
    """Where the template's catalogue is (ids are the template's, the same in every clone)."""
    ids = {row["name"]: str(row["id"]) for row in await db.fetch("SELECT id, name FROM registry.product")}
    commune = await db.fetchrow(
        "SELECT id, code, province_code FROM registry.admin_unit WHERE name = 'Xã Đồng Rui'"
    )
    faraway = await db.fetchval(
        """SELECT e.province_code FROM registry.entity e WHERE e.legal_name = 'Hợp tác xã Ngọc trai Vân Đồn'"""
    )
    return Catalogue(
        Unit(commune["province_code"], commune["code"], commune["id"], "Xã Đồng Rui"),
        {name: ids[name] for name in PUBLIC},
        {key: ids[name] for key, name in HIDDEN.items()},
        {ELSEWHERE: ids[ELSEWHERE]},
        faraway,
    )


async def _names(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get("/v1/catalogue", params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


async def test_folded_search_finds_the_vietnamese_name(
    registry_client: httpx.AsyncClient, catalogue: Catalogue
) -> None:
    commune = catalogue.unit.commune_code
    ruou_ba_kich = "Rượu ba kích Ba Chẽ"
    assert await _names(registry_client, q="ruou ba kich", commune=commune) == [ruou_ba_kich]
    assert await _names(registry_client, q="RƯỢU BA KÍCH", commune=commune) == [ruou_ba_kich]
    assert await _names(registry_client, q="  ruou   ba kich ", commune=commune) == [ruou_ba_kich]


async def test_search_covers_the_producer_name(
    registry_client: httpx.AsyncClient, catalogue: Catalogue
) -> None:
    found = await _names(registry_client, q="hai san van don")
    assert sorted(found) == sorted(["Chả mực Hạ Long", "Trà hoa vàng"])


async def test_search_text_is_not_a_pattern(registry_client: httpx.AsyncClient, catalogue: Catalogue) -> None:
    assert await _names(registry_client, q="100%", commune=catalogue.unit.commune_code) == []
    assert await _names(registry_client, q="r_ou", commune=catalogue.unit.commune_code) == []


async def test_relevance_ranks_product_names_before_producer_names(
    registry_client: httpx.AsyncClient, catalogue: Catalogue
) -> None:
    commune = catalogue.unit.commune_code
    # Both start with the text: the shorter name is the closer match.
    assert await _names(registry_client, q="ruou", commune=commune) == [
        "Rượu mơ Yên Tử",
        "Rượu ba kích Ba Chẽ",
    ]
    # A product name containing the text comes before products whose producer's name contains it.
    names = await _names(registry_client, q="ba che", commune=commune)
    assert names[0] == "Rượu ba kích Ba Chẽ"
    assert sorted(names[1:]) == ["Mật ong rừng", "Rượu mơ Yên Tử"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"star": 4}, ["Rượu ba kích Ba Chẽ"]),
        ({"star": [3, 4]}, ["Mật ong rừng", "Rượu ba kích Ba Chẽ", "Rượu mơ Yên Tử"]),
        ({"min_star": 4}, ["Chả mực Hạ Long", "Rượu ba kích Ba Chẽ", "Trà hoa vàng"]),
        ({"min_star": 4, "group": "food"}, ["Chả mực Hạ Long"]),
        ({"min_star": 4, "entity_type": "enterprise"}, ["Chả mực Hạ Long", "Trà hoa vàng"]),
        ({"group": "beverages", "entity_type": "cooperative", "star": 3}, ["Rượu mơ Yên Tử"]),
        ({"is_national": True}, ["Chả mực Hạ Long", "Trà hoa vàng"]),
        ({"is_national": False, "min_star": 4}, ["Rượu ba kích Ba Chẽ"]),
        ({"product_set": 15}, ["Rượu ba kích Ba Chẽ", "Rượu mơ Yên Tử"]),
        ({"q": "ruou", "min_star": 4}, ["Rượu ba kích Ba Chẽ"]),
        ({"group": "handicrafts"}, []),
    ],
)
async def test_filters_combine(
    registry_client: httpx.AsyncClient, catalogue: Catalogue, params: dict[str, Any], expected: list[str]
) -> None:
    names = await _names(registry_client, commune=catalogue.unit.commune_code, sort="name", **params)
    assert names == expected


async def test_province_filter(registry_client: httpx.AsyncClient, catalogue: Catalogue) -> None:
    names = await _names(registry_client, province=catalogue.unit.province_code)
    assert sorted(names) == sorted(catalogue.public)
    assert await _names(registry_client, province="01") == []
    assert sorted(await _names(registry_client)) == sorted(catalogue.public | catalogue.elsewhere)
    elsewhere = await _names(registry_client, province=catalogue.faraway_province)
    assert elsewhere == list(catalogue.elsewhere)


async def test_only_active_unexpired_certificates_are_public(
    registry_client: httpx.AsyncClient, catalogue: Catalogue
) -> None:
    names = await _names(registry_client, commune=catalogue.unit.commune_code)
    assert sorted(names) == sorted(catalogue.public)
    for product_id in catalogue.hidden.values():
        response = await registry_client.get(f"/v1/catalogue/{product_id}")
        assert response.status_code == 404
        assert response.json()["type"] == "/problems/catalogue-product-not-found"


@pytest.mark.parametrize(
    ("sort", "q"), [("name", None), ("-star", None), ("-issued_on", None), ("relevance", "a")]
)
async def test_every_sort_pages_without_duplicates_or_gaps(
    registry_client: httpx.AsyncClient, catalogue: Catalogue, sort: str, q: str | None
) -> None:
    params: dict[str, Any] = {"commune": catalogue.unit.commune_code, "sort": sort, **({"q": q} if q else {})}
    whole = (await registry_client.get("/v1/catalogue", params={**params, "limit": 200})).json()
    assert whole["next_cursor"] is None
    expected = [item["id"] for item in whole["items"]]
    assert sorted(expected) == sorted(catalogue.public.values())
    walked: list[str] = []
    cursor = None
    for _ in range(10):
        page = await registry_client.get(
            "/v1/catalogue", params={**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        )
        assert page.status_code == 200, page.text
        walked += [item["id"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert walked == expected


async def test_sort_orders(registry_client: httpx.AsyncClient, catalogue: Catalogue) -> None:
    params = {"commune": catalogue.unit.commune_code, "limit": 200}
    by_star = (await registry_client.get("/v1/catalogue", params={**params, "sort": "-star"})).json()["items"]
    stars = [item["ocop_star"] for item in by_star]
    assert stars == sorted(stars, reverse=True)
    by_date = (await registry_client.get("/v1/catalogue", params={**params, "sort": "-issued_on"})).json()[
        "items"
    ]
    assert by_date[0]["name"] == "Trà hoa vàng"
    assert [item["issued_on"] for item in by_date] == sorted(
        (item["issued_on"] for item in by_date), reverse=True
    )


async def test_public_record_uses_the_national_field_names(
    registry_client: httpx.AsyncClient, catalogue: Catalogue
) -> None:
    product_id = catalogue.public["Chả mực Hạ Long"]
    response = await registry_client.get(f"/v1/catalogue/{product_id}")
    assert response.status_code == 200, response.text
    record = response.json()
    assert set(record) == NATIONAL_FIELDS | OWN_FIELDS
    assert set(record["manufacturer"]) == MANUFACTURER_FIELDS
    assert record["ocop_star"] == 5
    assert record["is_national"] is True
    assert record["type"] == "food"
    assert record["product_set"] == 8
    recorded = (await registry_client.get(f"/v1/products/{product_id}", headers=ADMIN)).json()
    assert record["ocop_certificate_number"] == recorded["certificate_number"]
    issued = TODAY - timedelta(days=200)
    assert record["issued_on"] == issued.isoformat()
    # 36 months later: the same day three years on (28 February for a 29 February).
    expiry = (
        date(issued.year + 3, 2, 28)
        if (issued.month, issued.day) == (2, 29)
        else issued.replace(year=issued.year + 3)
    )
    assert record["expiry_date"] == expiry.isoformat()
    assert record["manufacturer"]["name"] == "Công ty TNHH Hải sản Vân Đồn"
    assert record["manufacturer"]["representative"] == "Nguyễn Thị Hoa"
    assert record["manufacturer"]["phone_number"] == "0203 3876 555"
    assert record["entity_type"] == "enterprise"
    assert record["commune"] == {
        "code": catalogue.unit.commune_code,
        "name": "Xã Đồng Rui",
    }
    assert record["province"]["code"] == catalogue.unit.province_code
    listed = await registry_client.get(
        "/v1/catalogue", params={"q": "cha muc", "commune": catalogue.unit.commune_code}
    )
    assert listed.json()["items"] == [record]


async def test_a_four_star_is_not_national(registry_client: httpx.AsyncClient, catalogue: Catalogue) -> None:
    record = (await registry_client.get(f"/v1/catalogue/{catalogue.public['Rượu ba kích Ba Chẽ']}")).json()
    assert (record["ocop_star"], record["is_national"], record["type"]) == (4, False, "beverages")


async def test_anyone_may_read_the_catalogue(
    registry_client: httpx.AsyncClient, catalogue: Catalogue
) -> None:
    product_id = catalogue.public["Mật ong rừng"]
    other_producer = auth("producer", str(uuid.uuid4()))
    for headers in ({}, other_producer, auth("partner", "portal-1"), auth("commune_officer", "00001")):
        listed = await registry_client.get(
            "/v1/catalogue", params={"commune": catalogue.unit.commune_code}, headers=headers
        )
        assert listed.status_code == 200
        assert len(listed.json()["items"]) == len(catalogue.public)
        assert (await registry_client.get(f"/v1/catalogue/{product_id}", headers=headers)).status_code == 200


async def test_an_invalid_token_is_still_refused(registry_client: httpx.AsyncClient) -> None:
    bad = {"Authorization": "Bearer not-a-token"}
    assert (await registry_client.get("/v1/catalogue", headers=bad)).status_code == 401
    assert (await registry_client.get(f"/v1/catalogue/{uuid.uuid4()}", headers=bad)).status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"star": 6}, "query.star.0"),
        ({"star": "four"}, "query.star.0"),
        ({"min_star": 0}, "query.min_star"),
        ({"product_set": 27}, "query.product_set"),
        ({"group": "toys"}, "query.group"),
        ({"province": "Quảng Ninh"}, "query.province"),
        ({"commune": "123"}, "query.commune"),
        ({"entity_type": "company"}, "query.entity_type"),
        ({"is_national": "perhaps"}, "query.is_national"),
        ({"sort": "price"}, "query.sort"),
        ({"sort": "relevance"}, "query.sort"),
        ({"q": ""}, "query.q"),
        ({"q": " ,.!"}, "query.q"),
        ({"q": "x" * 101}, "query.q"),
        ({"limit": 0}, "query.limit"),
        ({"limit": 201}, "query.limit"),
        ({"cursor": "not a cursor"}, "query.cursor"),
    ],
)
async def test_bad_query_parameters_are_422_naming_the_field(
    registry_client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    response = await registry_client.get("/v1/catalogue", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in [error["field"] for error in response.json()["errors"]]


async def test_a_cursor_only_works_with_its_own_sort(
    registry_client: httpx.AsyncClient, catalogue: Catalogue
) -> None:
    params = {"commune": catalogue.unit.commune_code, "limit": 1}
    cursor = (await registry_client.get("/v1/catalogue", params={**params, "sort": "-star"})).json()[
        "next_cursor"
    ]
    response = await registry_client.get("/v1/catalogue", params={**params, "sort": "name", "cursor": cursor})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.cursor"


@pytest.mark.parametrize(
    "key",
    [
        ["-star", 40_000, "a", str(uuid.uuid4())],
        ["relevance", 10**12, "a", str(uuid.uuid4())],
        ["-star", "4", "a", str(uuid.uuid4())],
        ["-star", 4, "a\u0000b", str(uuid.uuid4())],
        ["-star", 4, 7, str(uuid.uuid4())],
        ["-star", 4, "a", "not-a-uuid"],
        ["-issued_on", "yesterday", "a", str(uuid.uuid4())],
        ["relevance", 1.5, "a", str(uuid.uuid4())],
    ],
)
async def test_a_forged_cursor_is_422(registry_client: httpx.AsyncClient, key: list[Any]) -> None:
    params = {
        "sort": key[0],
        "cursor": encode_cursor(*key),
        **({"q": "ruou"} if key[0] == "relevance" else {}),
    }
    response = await registry_client.get("/v1/catalogue", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "query.cursor"


async def test_control_characters_in_the_text_are_refused(registry_client: httpx.AsyncClient) -> None:
    response = await registry_client.get("/v1/catalogue", params={"q": "ruou\tba\x00kich"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.q"


async def test_unknown_or_malformed_id(registry_client: httpx.AsyncClient) -> None:
    unknown = await registry_client.get(f"/v1/catalogue/{uuid.uuid4()}")
    assert unknown.status_code == 404
    assert unknown.json()["type"] == "/problems/catalogue-product-not-found"
    malformed = await registry_client.get("/v1/catalogue/not-an-id")
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["field"] == "path.product_id"


async def test_a_text_naming_many_producers_finds_the_same_products(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    # More producers than MANY_PRODUCERS share a word, so key orders walk their index instead.
    unit = await builders.unit(db)
    owners = [
        await builders.producer(registry_client, db, unit, legal_name=f"Hợp tác xã chung số {n}")
        for n in range(3)
    ]
    rows = [
        (uuid.uuid4(), f"Hợp tác xã chung số {n}", f"hop tac xa chung so {n}", builders.tax_code(), unit.commune_id,
         unit.commune_code, unit.province_code)
        for n in range(3, MANY_PRODUCERS + 5)
    ]  # fmt: skip
    await db.executemany(
        "INSERT INTO registry.entity (id, entity_type, legal_name, name_folded, tax_code, representative_name,"
        " admin_unit_id, commune_code, province_code) VALUES ($1, 'cooperative', $2, $3, $4, 'Lê Văn Nam', $5, $6, $7)",
        rows,
    )
    names = [f"Miến dong {n}" for n in range(3)]
    for name, owner in zip(names, owners, strict=True):
        await builders.certified_product(registry_client, owner, name=name, product_set=6, star=3)
    for sort in ("name", "-star", "-issued_on", "relevance"):
        found: list[str] = []
        cursor = None
        for _ in range(5):
            params = {"q": "chung", "sort": sort, "limit": 1, **({"cursor": cursor} if cursor else {})}
            page = await registry_client.get("/v1/catalogue", params=params)
            assert page.status_code == 200, page.text
            found += [item["name"] for item in page.json()["items"]]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        assert sorted(found) == names, sort


# Quotes, a backslash, CR LF, a tab, Vietnamese and an emoji: each must be
# escaped (or not) exactly as the response model's own JSON writer does it.
AWKWARD_TEXT = 'Rượu "ngon" \\ C:\\hũ\r\nDòng hai\tcột 🍶 </p>'


async def test_the_public_record_is_the_json_the_response_model_writes(
    registry_client: httpx.AsyncClient, producer: Producer
) -> None:
    # PostgreSQL writes the record: it must be byte for byte what pydantic would send for the same values.
    created = await builders.product(
        registry_client, producer, headers=ADMIN, name='Rượu ba kích "Ba Chẽ"', product_set=15,
        description=AWKWARD_TEXT, status="ready_for_evaluation",
        images=[{"url": "https://example.vn/a.jpg"}, {"url": "https://example.vn/b.jpg"}],
    )  # fmt: skip
    product_id = created["id"]
    await builders.certify(registry_client, product_id, star=5, issued_on=TODAY - timedelta(days=3))
    response = await registry_client.get(f"/v1/catalogue/{product_id}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert (
        response.content == CatalogueProduct.model_validate_json(response.content).model_dump_json().encode()
    )
    record = response.json()
    assert list(record) == list(CatalogueProduct.model_fields)
    assert record["description"] == AWKWARD_TEXT
    assert record["name"] == 'Rượu ba kích "Ba Chẽ"'
    assert record["images"] == ["https://example.vn/a.jpg", "https://example.vn/b.jpg"]
    assert (record["ocop_star"], record["is_national"], record["story"]) == (5, True, None)
    assert record["manufacturer"]["email"] == "htx@example.vn"
    assert record["commune"] == {"code": producer.unit.commune_code, "name": "Xã Thử Nghiệm"}
    assert record["province"] == {"code": producer.unit.province_code, "name": "Tỉnh Thử"}
    page = await registry_client.get(
        "/v1/catalogue", params={"commune": producer.unit.commune_code, "limit": 1}
    )
    assert page.headers["content-type"] == "application/json"
    assert page.content == Page[CatalogueProduct].model_validate_json(page.content).model_dump_json().encode()
    assert page.json() == {"items": [record], "next_cursor": None}


async def test_a_record_not_in_the_catalogue_is_a_problem(
    registry_client: httpx.AsyncClient, catalogue: Catalogue
) -> None:
    for product_id in (*catalogue.hidden.values(), str(uuid.uuid4())):
        response = await registry_client.get(f"/v1/catalogue/{product_id}")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["type"] == "/problems/catalogue-product-not-found"
        assert problem["detail"] == f"No product {product_id} in the catalogue"


async def test_the_fast_path_answers_as_the_route_does(
    registry_client: httpx.AsyncClient, catalogue: Catalogue
) -> None:
    # Anonymous reads of a canonical id take shared/fastpath.py; a token or another id form the route.
    partner = auth("partner", "portal-1")
    for product_id in (
        catalogue.public["Mật ong rừng"],
        next(iter(catalogue.hidden.values())),
        str(uuid.uuid4()),
    ):
        fast = await registry_client.get(f"/v1/catalogue/{product_id}")
        routed = await registry_client.get(f"/v1/catalogue/{product_id}", headers=partner)
        upper = await registry_client.get(f"/v1/catalogue/{product_id.upper()}")
        assert fast.status_code == routed.status_code == upper.status_code
        if fast.status_code == 200:
            assert fast.content == routed.content
        else:  # a problem names its request
            assert {**fast.json(), "request_id": None} == {**routed.json(), "request_id": None}
            assert fast.json()["request_id"] == fast.headers["x-request-id"]
        assert fast.headers["content-type"] == routed.headers["content-type"] == upper.headers["content-type"]
    # Forms FastAPI accepts but the fast path does not take still reach the route.
    product_id = catalogue.public["Mật ong rừng"]
    assert (await registry_client.get(f"/v1/catalogue/{product_id.replace('-', '')}")).status_code == 200
    assert (await registry_client.head(f"/v1/catalogue/{product_id}")).status_code == 405
