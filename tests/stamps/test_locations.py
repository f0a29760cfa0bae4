"""Producers' sites as EPCIS locations: registration (GLN → SGLN, or the platform's URI), reads, changes,
listings by role, the public places, and the service functions capture and the trace view call."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, text

from services.stamps.locations import identifiers, service
from services.stamps.locations.errors import GlnTaken
from services.stamps.locations.schemas import LocationCreate
from shared.security.principal import Principal, Role
from tests.builders import ADMIN, gln, location, location_body, stamped_product
from tests.conftest import asgi_client, auth, stamps_app
from tests.support.database import TestDatabase

LOCATIONS = "/v1/locations"
RESOLVER_HOST = "tem.ocop.example.vn"  # StampsSettings' default, which the test app keeps


def producer() -> dict[str, str]:
    """The headers of a producer of a new entity (the entity's id is the token's scope)."""
    return auth("producer", str(uuid.uuid4()))


async def own_site(stamps: httpx.AsyncClient, **overrides: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """A site of a new producer, and that producer's headers."""
    entity_id = uuid.uuid4()
    headers = auth("producer", str(entity_id))
    site = await location(stamps, headers, **overrides)
    assert site["entity_id"] == str(entity_id)
    return site, headers


def session_of(stamps: httpx.AsyncClient) -> Any:
    """A session on the test app's database (the test's own rows)."""
    return stamps._transport.app.state.db.sessionmaker()  # type: ignore[attr-defined]


# Identifiers: GLN check digits and SGLNs (pure)

GLN_BODIES = st.text(alphabet="0123456789", min_size=12, max_size=12)


def with_check_digit(body: str) -> str:
    from shared.gs1 import check_digit

    return body + str(check_digit(body))


def test_the_worked_example_of_traceability_md() -> None:
    assert identifiers.gln_problem("8934567000109") is None
    assert identifiers.sgln_uri("8934567000109", 7) == "urn:epc:id:sgln:8934567.00010.0"
    assert identifiers.sgln_uri("8934567000109", 9) == "urn:epc:id:sgln:893456700.010.0"
    assert identifiers.digital_link("8934567000109") == "https://id.gs1.org/414/8934567000109"


@given(GLN_BODIES)
def test_a_gln_with_its_check_digit_passes_and_every_other_last_digit_fails(body: str) -> None:
    good = with_check_digit(body)
    assert identifiers.gln_problem(good) is None
    for digit in "0123456789":
        if digit != good[-1]:
            assert identifiers.gln_problem(body + digit) is not None


@given(GLN_BODIES, st.integers(0, 11), st.integers(1, 9))
def test_any_single_mistyped_digit_is_caught(body: str, position: int, shift: int) -> None:
    good = with_check_digit(body)
    typo = good[:position] + str((int(good[position]) + shift) % 10) + good[position + 1 :]
    assert identifiers.gln_problem(typo) is not None


@given(GLN_BODIES, st.integers(6, 12))
def test_an_sgln_splits_the_gln_at_the_prefix_and_reads_back_to_it(body: str, prefix_length: int) -> None:
    gln_ = with_check_digit(body)
    uri = identifiers.sgln_uri(gln_, prefix_length)
    prefix, reference, extension = uri.removeprefix("urn:epc:id:sgln:").split(".")
    assert (prefix, reference, extension) == (gln_[:prefix_length], gln_[prefix_length:12], "0")
    assert identifiers.gln_of(uri) == gln_
    assert identifiers.gln_of(identifiers.digital_link(gln_)) == gln_
    assert identifiers.gln_of(identifiers.digital_link_path(gln_)) == gln_


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("urn:epc:id:sgln:8934567.00010.0", "8934567000109"),
        ("urn:epc:id:sgln:893456700.010.0", "8934567000109"),
        ("https://id.gs1.org/414/8934567000109", "8934567000109"),
        ("HTTPS://TEM.OCOP.EXAMPLE.VN/414/8934567000109", "8934567000109"),
        ("https://example.vn/gs1/414/8934567000109/", "8934567000109"),
        ("/414/8934567000109", "8934567000109"),
        ("urn:epc:id:sgln:8934567.00010.1", None),  # a sub-location, not the site
        ("urn:epc:id:sgln:8934567.0001.0", None),  # eleven digits
        ("https://id.gs1.org/414/8934567000108", None),  # wrong check digit
        ("https://id.gs1.org/414/8934567000109/254/7", None),  # a sub-location
        ("https://id.gs1.org/414/8934567000109?x=1", None),
        ("ftp://id.gs1.org/414/8934567000109", None),
        ("https://tem.ocop.example.vn/loc/4b1c6f0e-3b0a-4a55-9d50-5a1ad8e1a001", None),
    ],
)
def test_the_forms_that_name_a_gln(uri: str, expected: str | None) -> None:
    assert identifiers.gln_of(uri) == expected


@pytest.mark.parametrize(
    ("gln_", "length", "allowed"),
    [("8934567000109", 7, True), ("8934567000109", 10, True), ("8934567000109", 6, False),
     ("8934567000109", 11, False), ("4006381000009", 6, True), ("4006381000009", 12, True),
     ("4006381000009", 13, False), ("4006381000009", 5, False)],
)  # fmt: skip
def test_company_prefix_lengths(gln_: str, length: int, allowed: bool) -> None:
    assert (identifiers.prefix_length_problem(gln_, length) is None) is allowed


# Registration and reads


async def test_a_site_with_a_gln_is_named_by_its_sgln(stamps_client: httpx.AsyncClient) -> None:
    headers = producer()
    number = gln()
    response = await stamps_client.post(
        LOCATIONS, json=location_body(gln=number, gln_company_prefix_length=7), headers=headers
    )
    assert response.status_code == 201, response.text
    site = response.json()
    assert site["uri"] == f"urn:epc:id:sgln:{number[:7]}.{number[7:12]}.0"
    assert site["gln"] == number
    assert response.headers["location"] == f"{LOCATIONS}/{site['id']}"
    read = await stamps_client.get(response.headers["location"], headers=headers)
    assert read.status_code == 200
    assert read.json() == site
    assert (site["kind"], site["province_code"], site["commune_code"], site["latitude"]) == (
        "production_site",
        "22",
        "22001",
        20.951,
    )


async def test_a_site_without_a_gln_gets_a_platform_uri_that_resolves(
    stamps_client: httpx.AsyncClient,
) -> None:
    site, _ = await own_site(stamps_client, kind="shop", name="Cửa hàng OCOP Hạ Long")
    assert site["gln"] is None
    assert site["uri"] == f"https://{RESOLVER_HOST}/loc/{site['id']}"
    public = await stamps_client.get(f"/loc/{site['id']}")  # anonymous
    assert public.status_code == 200
    assert public.json() == {
        "id": site["id"], "uri": site["uri"], "gln": None, "name": "Cửa hàng OCOP Hạ Long", "kind": "shop",
        "commune_code": "22001", "commune_name": None, "province_code": "22", "province_name": "Tỉnh Quảng Ninh",
        "latitude": 20.951, "longitude": 107.080,
    }  # fmt: skip
    assert public.headers["cache-control"] == "public, max-age=300"
    missing = await stamps_client.get(f"/loc/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_a_retry_with_the_same_idempotency_key_registers_once(stamps_client: httpx.AsyncClient) -> None:
    headers = {**producer(), "Idempotency-Key": "site-registration-1"}
    body = location_body()
    first = await stamps_client.post(LOCATIONS, json=body, headers=headers)
    again = await stamps_client.post(LOCATIONS, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    listed = await stamps_client.get(LOCATIONS, headers=headers)
    assert [item["id"] for item in listed.json()["items"]] == [first.json()["id"]]


async def test_a_gln_names_one_site(stamps_client: httpx.AsyncClient) -> None:
    number = gln()
    await location(stamps_client, producer(), gln=number, gln_company_prefix_length=7)
    # Another producer, or the same GLN split elsewhere: still the same site.
    again = await stamps_client.post(
        LOCATIONS, json=location_body(gln=number, gln_company_prefix_length=8), headers=producer()
    )
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/gln-taken"
    assert again.json()["field"] == "body.gln"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"gln": "8934567000108", "gln_company_prefix_length": 7}, "body.gln"),
        ({"gln": "893456700010A", "gln_company_prefix_length": 7}, "body.gln"),
        ({"gln": "893456700010"}, "body.gln"),
        ({"gln": "8934567000109"}, "body.gln_company_prefix_length"),
        ({"gln": "8934567000109", "gln_company_prefix_length": 11}, "body.gln_company_prefix_length"),
        ({"gln": "8934567000109", "gln_company_prefix_length": 13}, "body.gln_company_prefix_length"),
        ({"gln": "8934567000109", "gln_company_prefix_length": True}, "body.gln_company_prefix_length"),
        ({"gln_company_prefix_length": 7}, "body.gln_company_prefix_length"),
        ({"latitude": 90.5}, "body.latitude"),
        ({"longitude": -180.01}, "body.longitude"),
        ({"latitude": None}, "body.latitude"),
        ({"longitude": None}, "body.longitude"),
        ({"latitude": "north"}, "body.latitude"),
        ({"province_code": "00"}, "body.province_code"),
        ({"province_code": "2"}, "body.province_code"),
        ({"commune_code": "2200"}, "body.commune_code"),
        ({"commune_name": ""}, "body.commune_name"),
        ({"commune_name": "x" * 256}, "body.commune_name"),
        ({"commune_code": None, "commune_name": "Phường Hạ Long"}, "body.commune_name"),
        ({"kind": "farm"}, "body.kind"),
        ({"name": ""}, "body.name"),
        ({"name": "x" * 256}, "body.name"),
        ({"uri": "urn:epc:id:sgln:8934567.00010.0"}, "body.uri"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    stamps_client: httpx.AsyncClient, changes: dict[str, Any], field: str
) -> None:
    body = {name: value for name, value in location_body(**changes).items() if value is not None}
    response = await stamps_client.post(LOCATIONS, json=body, headers=producer())
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in {error["field"] for error in response.json()["errors"]}
    assert (await stamps_client.get(LOCATIONS, headers=ADMIN)).json()["items"] == []


async def test_a_missing_name_kind_or_province_is_named(stamps_client: httpx.AsyncClient) -> None:
    response = await stamps_client.post(LOCATIONS, json={"address": "Hạ Long"}, headers=producer())
    assert response.status_code == 422
    assert {"body.name", "body.kind", "body.province_code"} <= {e["field"] for e in response.json()["errors"]}


# Commune names


async def test_a_commune_the_registry_knows_is_named_by_the_registry(
    stamps_client: httpx.AsyncClient,
) -> None:
    product = await stamped_product(stamps_client)  # the registry's product in 07090, "Phường Hạ Long"
    site = await location(stamps_client, product["producer"], commune_code="07090")
    assert (site["commune_code"], site["commune_name"]) == ("07090", "Phường Hạ Long")
    public = (await stamps_client.get(f"/loc/{site['id']}")).json()
    assert (public["commune_name"], public["province_name"]) == ("Phường Hạ Long", "Tỉnh Quảng Ninh")
    # The same name given in another case or spacing is the registry's; another name is refused.
    spelled = await location(
        stamps_client, product["producer"], commune_code="07090", commune_name=" phường  hạ long"
    )
    assert spelled["commune_name"] == "Phường Hạ Long"
    wrong = await stamps_client.post(
        LOCATIONS,
        json=location_body(commune_code="07090", commune_name="Phường Bãi Cháy"),
        headers=product["producer"],
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "body.commune_name"
    assert "Phường Hạ Long" in wrong.json()["errors"][0]["message"]


async def test_a_commune_in_another_province_is_refused(stamps_client: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps_client)
    answer = await stamps_client.post(
        LOCATIONS, json=location_body(commune_code="07090", province_code="01"), headers=product["producer"]
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "body.commune_code"


async def test_a_commune_the_registry_does_not_know_keeps_the_name_given(
    stamps_client: httpx.AsyncClient,
) -> None:
    named, headers = await own_site(stamps_client, commune_code="22009", commune_name="Phường Cửa Ông")
    assert (named["commune_code"], named["commune_name"]) == ("22009", "Phường Cửa Ông")
    unnamed = await location(stamps_client, headers, commune_code="22010")
    assert unnamed["commune_name"] is None


async def test_changing_the_commune_renames_it_and_clearing_it_clears_the_name(
    stamps_client: httpx.AsyncClient,
) -> None:
    product = await stamped_product(stamps_client)
    site = await location(
        stamps_client, product["producer"], commune_code="22009", commune_name="Phường Cửa Ông"
    )
    url = f"{LOCATIONS}/{site['id']}"
    moved = await stamps_client.patch(url, json={"commune_code": "07090"}, headers=product["producer"])
    assert moved.status_code == 200, moved.text
    assert moved.json()["commune_name"] == "Phường Hạ Long"
    renamed = await stamps_client.patch(url, json={"name": "Kho mới"}, headers=product["producer"])
    assert renamed.json()["commune_name"] == "Phường Hạ Long"
    cleared = await stamps_client.patch(url, json={"commune_code": None}, headers=product["producer"])
    assert (cleared.json()["commune_code"], cleared.json()["commune_name"]) == (None, None)
    refused = await stamps_client.patch(
        url, json={"commune_name": "Phường Cửa Ông"}, headers=product["producer"]
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "body.commune_name"


# Who may register, read and change


async def test_who_may_register_a_site(stamps_client: httpx.AsyncClient) -> None:
    entity_id = uuid.uuid4()
    body = location_body()
    anonymous = await stamps_client.post(LOCATIONS, json=body)
    assert anonymous.status_code == 401
    for role, scope in (("province_officer", "22"), ("commune_officer", "22001"), ("national", None),
                        ("partner", None), ("council_member", str(uuid.uuid4())), ("service", "scoring")):  # fmt: skip
        refused = await stamps_client.post(LOCATIONS, json=body, headers=auth(role, scope))
        assert refused.status_code == 403, (role, refused.text)
    others = await stamps_client.post(
        LOCATIONS, json={**body, "entity_id": str(uuid.uuid4())}, headers=auth("producer", str(entity_id))
    )
    assert others.status_code == 403
    malformed = await stamps_client.post(LOCATIONS, json=body, headers=auth("producer", "not-a-uuid"))
    assert malformed.status_code == 403
    unnamed = await stamps_client.post(LOCATIONS, json=body, headers=ADMIN)
    assert unnamed.status_code == 422
    assert unnamed.json()["errors"][0]["field"] == "body.entity_id"
    by_admin = await stamps_client.post(LOCATIONS, json={**body, "entity_id": str(entity_id)}, headers=ADMIN)
    assert by_admin.status_code == 201
    assert by_admin.json()["entity_id"] == str(entity_id)
    own = await stamps_client.post(
        LOCATIONS,
        json={**location_body(), "entity_id": str(entity_id)},
        headers=auth("producer", str(entity_id)),
    )
    assert own.status_code == 201


READERS = {
    "its producer": (None, 200),
    "another producer": (auth("producer", str(uuid.uuid4())), 404),
    "its province's officer": (auth("province_officer", "22"), 200),
    "another province's officer": (auth("province_officer", "01"), 404),
    "its commune's officer": (auth("commune_officer", "22001"), 200),
    "another commune's officer": (auth("commune_officer", "22002"), 404),
    "the national client": (auth("national"), 200),
    "an admin": (ADMIN, 200),
    "a council member": (auth("council_member", str(uuid.uuid4())), 404),
    "a partner": (auth("partner", "doi-tac"), 404),
    "an officer with a malformed scope": (auth("province_officer", "Quảng Ninh"), 404),
}


@pytest.mark.parametrize("who", READERS)
async def test_who_may_read_a_site(stamps_client: httpx.AsyncClient, who: str) -> None:
    site, owner = await own_site(stamps_client)
    headers, status = READERS[who]
    response = await stamps_client.get(f"{LOCATIONS}/{site['id']}", headers=headers or owner)
    assert response.status_code == status, response.text
    if status == 404:
        assert response.json()["type"] == "/problems/location-not-found"


async def test_reading_a_site_needs_a_token(stamps_client: httpx.AsyncClient) -> None:
    site, _ = await own_site(stamps_client)
    assert (await stamps_client.get(f"{LOCATIONS}/{site['id']}")).status_code == 401
    assert (await stamps_client.get(LOCATIONS)).status_code == 401
    assert (await stamps_client.patch(f"{LOCATIONS}/{site['id']}", json={"name": "x"})).status_code == 401


EDITORS = {
    "its producer": (None, 200),
    "an admin": (ADMIN, 200),
    "another producer": (auth("producer", str(uuid.uuid4())), 404),
    "its province's officer": (auth("province_officer", "22"), 403),
    "its commune's officer": (auth("commune_officer", "22001"), 403),
    "the national client": (auth("national"), 403),
    "another province's officer": (auth("province_officer", "01"), 404),
    "a partner": (auth("partner", "doi-tac"), 404),
}


@pytest.mark.parametrize("who", EDITORS)
async def test_who_may_change_a_site(stamps_client: httpx.AsyncClient, who: str) -> None:
    site, owner = await own_site(stamps_client)
    headers, status = EDITORS[who]
    response = await stamps_client.patch(
        f"{LOCATIONS}/{site['id']}", json={"name": "Kho lạnh Cái Lân"}, headers=headers or owner
    )
    assert response.status_code == status, response.text
    after = (await stamps_client.get(f"{LOCATIONS}/{site['id']}", headers=owner)).json()
    assert after["name"] == ("Kho lạnh Cái Lân" if status == 200 else site["name"])


async def test_a_change_keeps_the_uri_and_checks_what_it_changes(stamps_client: httpx.AsyncClient) -> None:
    site, owner = await own_site(stamps_client, gln=gln(), gln_company_prefix_length=8)
    url = f"{LOCATIONS}/{site['id']}"
    changed = await stamps_client.patch(
        url,
        json={"kind": "warehouse", "address": None, "province_code": "01", "commune_code": None},
        headers=owner,
    )
    assert changed.status_code == 200, changed.text
    assert {k: changed.json()[k] for k in ("kind", "address", "province_code", "commune_code", "uri", "gln")} == {
        "kind": "warehouse", "address": None, "province_code": "01", "commune_code": None,
        "uri": site["uri"], "gln": site["gln"],
    }  # fmt: skip
    for body, field in (
        ({"gln": gln()}, "body.gln"),
        ({"uri": "https://example.vn/loc/1"}, "body.uri"),
        ({"name": None}, "body.name"),
        ({"kind": None}, "body.kind"),
        ({"province_code": "99"}, "body.province_code"),
        ({"latitude": None}, "body.latitude"),
        ({"latitude": 95}, "body.latitude"),
    ):
        refused = await stamps_client.patch(url, json=body, headers=owner)
        assert refused.status_code == 422, (body, refused.text)
        assert field in {e["field"] for e in refused.json()["errors"]}, (body, refused.json())
    cleared = await stamps_client.patch(url, json={"latitude": None, "longitude": None}, headers=owner)
    assert (cleared.json()["latitude"], cleared.json()["longitude"]) == (None, None)
    missing = await stamps_client.patch(f"{LOCATIONS}/{uuid.uuid4()}", json={"name": "x"}, headers=owner)
    assert missing.status_code == 404


# Listings


async def test_each_role_lists_the_sites_it_may_see(stamps_client: httpx.AsyncClient) -> None:
    quang_ninh, owner = await own_site(stamps_client)
    other_commune = await location(stamps_client, owner, commune_code="22002")
    ha_noi, ha_noi_owner = await own_site(stamps_client, province_code="01", commune_code="01001")
    seen = {
        "owner": {quang_ninh["id"], other_commune["id"]},
        "ha_noi_owner": {ha_noi["id"]},
        "province_officer_22": {quang_ninh["id"], other_commune["id"]},
        "province_officer_01": {ha_noi["id"]},
        "commune_officer_22001": {quang_ninh["id"]},
        "national": {quang_ninh["id"], other_commune["id"], ha_noi["id"]},
        "admin": {quang_ninh["id"], other_commune["id"], ha_noi["id"]},
        "council_member": set(),
        "partner": set(),
        "malformed_officer": set(),
        "scopeless_producer": set(),
    }
    headers = {
        "owner": owner, "ha_noi_owner": ha_noi_owner,
        "province_officer_22": auth("province_officer", "22"), "province_officer_01": auth("province_officer", "01"),
        "commune_officer_22001": auth("commune_officer", "22001"), "national": auth("national"), "admin": ADMIN,
        "council_member": auth("council_member", str(uuid.uuid4())), "partner": auth("partner", "doi-tac"),
        "malformed_officer": auth("province_officer", "2"), "scopeless_producer": auth("producer"),
    }  # fmt: skip
    for who, expected in seen.items():
        response = await stamps_client.get(LOCATIONS, headers=headers[who])
        assert response.status_code == 200, (who, response.text)
        assert {item["id"] for item in response.json()["items"]} == expected, who


async def test_a_listing_pages_by_name_and_filters(stamps_client: httpx.AsyncClient) -> None:
    entity_id = uuid.uuid4()
    owner = auth("producer", str(entity_id))
    for name, kind in (("C kho", "warehouse"), ("A xưởng", "production_site"), ("B cửa hàng", "shop")):
        await location(stamps_client, owner, name=name, kind=kind)
    await own_site(stamps_client)  # another producer's
    first = (await stamps_client.get(LOCATIONS, params={"limit": 2}, headers=owner)).json()
    assert [item["name"] for item in first["items"]] == ["A xưởng", "B cửa hàng"]
    second = (
        await stamps_client.get(LOCATIONS, params={"limit": 2, "cursor": first["next_cursor"]}, headers=owner)
    ).json()
    assert [item["name"] for item in second["items"]] == ["C kho"]
    assert second["next_cursor"] is None
    shops = await stamps_client.get(LOCATIONS, params={"kind": "shop"}, headers=ADMIN)
    assert [item["name"] for item in shops.json()["items"]] == ["B cửa hàng"]
    mine = await stamps_client.get(LOCATIONS, params={"entity_id": str(entity_id)}, headers=ADMIN)
    assert len(mine.json()["items"]) == 3
    elsewhere = await stamps_client.get(LOCATIONS, params={"province_code": "01"}, headers=ADMIN)
    assert elsewhere.json()["items"] == []
    forged = await stamps_client.get(LOCATIONS, params={"cursor": "bm90LWEtY3Vyc29y"}, headers=owner)
    assert forged.status_code == 422
    assert forged.json()["errors"][0]["field"] == "query.cursor"


# The public places, and the functions capture and the trace view call


async def test_the_public_places_name_sites_by_any_form_of_their_uri(
    stamps_client: httpx.AsyncClient,
) -> None:
    number = gln()
    with_gln, _ = await own_site(
        stamps_client, gln=number, gln_company_prefix_length=7, name="Xưởng Hoành Bồ"
    )
    ours, _ = await own_site(stamps_client, kind="shop", name="Cửa hàng Bãi Cháy")
    other_split = f"urn:epc:id:sgln:{number[:9]}.{number[9:12]}.0"
    asked = [with_gln["uri"], other_split, f"https://id.gs1.org/414/{number}", ours["uri"],
             f"https://{RESOLVER_HOST}/loc/{uuid.uuid4()}", "urn:epc:id:sgln:8930000.00000.0"]  # fmt: skip
    response = await stamps_client.get(f"{LOCATIONS}/places", params={"uri": asked})  # anonymous
    assert response.status_code == 200, response.text
    places = response.json()
    assert set(places) == set(asked[:4])
    assert {places[uri]["name"] for uri in asked[:3]} == {"Xưởng Hoành Bồ"}
    assert places[ours["uri"]]["kind"] == "shop"
    assert "entity_id" not in places[ours["uri"]]
    shouted = ours["uri"].replace("https://", "HTTPS://").replace(RESOLVER_HOST, RESOLVER_HOST.upper())
    again = await stamps_client.get(f"{LOCATIONS}/places", params={"uri": [shouted]})
    assert again.json()[shouted]["name"] == "Cửa hàng Bãi Cháy"
    for params in ({}, {"uri": [ours["uri"]] * 41}, {"uri": ["urn:" + "x" * 200]}):
        refused = await stamps_client.get(f"{LOCATIONS}/places", params=params)
        assert refused.status_code == 422, params
        assert refused.json()["errors"][0]["field"].startswith("query.uri")


async def test_owned_uris_are_every_form_of_the_entitys_own_sites(stamps_client: httpx.AsyncClient) -> None:
    number = gln()
    with_gln, owner = await own_site(stamps_client, gln=number, gln_company_prefix_length=7)
    without = await location(stamps_client, owner)
    others, _ = await own_site(stamps_client, gln=gln(), gln_company_prefix_length=7)
    async with session_of(stamps_client) as session:
        owned = await service.owned_uris(session, entity_id=uuid.UUID(with_gln["entity_id"]))
        nobody = await service.owned_uris(session, entity_id=uuid.uuid4())
    assert owned == {with_gln["uri"], f"https://id.gs1.org/414/{number}", f"/414/{number}", without["uri"]}
    assert others["uri"] not in owned
    assert nobody == set()


async def test_describe_names_a_whole_collection_in_one_statement(stamps_client: httpx.AsyncClient) -> None:
    number = gln()
    with_gln, _ = await own_site(stamps_client, gln=number, gln_company_prefix_length=7, name="Kho Cái Lân")
    ours, _ = await own_site(
        stamps_client, province_code="01", commune_code=None, latitude=None, longitude=None
    )
    path = f"/414/{number}"
    unknown = f"https://{RESOLVER_HOST}/loc/{uuid.uuid4()}"
    statements: list[str] = []
    async with session_of(stamps_client) as session:
        connection = await session.connection()

        def count(*args: Any) -> None:
            statements.append(args[2])

        event.listen(connection.sync_connection, "before_cursor_execute", count)
        try:
            places = await service.describe(
                session, uris=[with_gln["uri"], path, ours["uri"], unknown, "not a uri"]
            )
        finally:
            event.remove(connection.sync_connection, "before_cursor_execute", count)
        assert len(statements) == 1
        assert await service.describe(session, uris=[]) == {}
    assert set(places) == {with_gln["uri"], path, ours["uri"]}
    assert places[path] == places[with_gln["uri"]]
    place = places[with_gln["uri"]]
    assert (place.name, place.kind, place.gln, place.province_name, place.commune_code) == (
        "Kho Cái Lân",
        "production_site",
        number,
        "Tỉnh Quảng Ninh",
        "22001",
    )
    assert (place.latitude, place.longitude) == (20.951, 107.080)
    far = places[ours["uri"]]
    assert (far.province_code, far.province_name, far.commune_code, far.latitude) == (
        "01",
        "Thành phố Hà Nội",
        None,
        None,
    )


@pytest.fixture
async def own_app(database: TestDatabase) -> AsyncIterator[httpx.AsyncClient]:
    """The stamps app on the test's database with its own pool, its lifespan ended before the test's rows go."""
    async for client in asgi_client(stamps_app(database)):
        yield client


@pytest.mark.commits  # two transactions of the app's own pool race
async def test_two_registrations_of_one_gln_cannot_both_pass(own_app: httpx.AsyncClient) -> None:
    number = gln()
    sessionmaker = own_app._transport.app.state.db.sessionmaker  # type: ignore[attr-defined]

    async def register(session: Any, prefix_length: int) -> None:
        body = location_body(gln=number, gln_company_prefix_length=prefix_length, entity_id=str(uuid.uuid4()))
        await service.register_location(
            session, principal=Principal(sub="a", role=Role.admin), data=LocationCreate.model_validate(body),
            resolver_host=RESOLVER_HOST,
        )  # fmt: skip

    async def someone_waits_for_a_lock(session: Any) -> bool:
        query = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        waiting = bool(await session.scalar(text(query)))
        await session.rollback()
        return waiting

    # Split differently, the two SGLNs differ: only the GLN's lock can make the second wait for the first.
    async with sessionmaker() as first, sessionmaker() as second, sessionmaker() as watcher:
        async with first.begin():
            await register(first, 7)
            late = asyncio.create_task(register(second, 8))
            while not await someone_waits_for_a_lock(watcher):
                assert not late.done(), late
        with pytest.raises(GlnTaken):
            await late
        await second.rollback()
    listed = await own_app.get(LOCATIONS, headers=ADMIN)
    assert [(item["gln"], item["uri"]) for item in listed.json()["items"]] == [
        (number, identifiers.sgln_uri(number, 7))
    ]
