"""A browser's scan: 307 to the page of that scan (a signed, short-lived token), the page shown again without a
new scan, and the location a consumer consents to share from it."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from services.stamps.config import StampsSettings
from services.stamps.verification import tokens
from shared import clock, gs1
from tests.builders import active_stamps, logged_scans, stamped_product
from tests.conftest import auth
from tests.stamps.test_verification import path_of, reserved, scans

pytestmark = pytest.mark.commits  # the scan log writes through its own connection
BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
JSON = {"accept": "application/json"}


def key_of(stamps: httpx.AsyncClient) -> bytes:
    app = stamps._transport.app  # type: ignore[attr-defined]
    key: bytes = app.state.settings.scan_token_key.get_secret_value().encode()
    return key


async def redirected(stamps: httpx.AsyncClient, path: str, **headers: str) -> httpx.Response:
    """A browser's scan of ``path``: the 307, asserted, not followed."""
    answer = await stamps.get(path, headers={**BROWSER, **headers})
    assert answer.status_code == 307, answer.text
    return answer


async def test_a_browser_scan_is_logged_then_sent_to_the_page_of_that_scan(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    _, serials = await active_stamps(stamps, product, quantity=1)
    path = path_of(product, serials[0])

    answer = await redirected(stamps, path + "?lang=en")
    location = answer.headers["location"]
    assert location.startswith("/s/")
    assert urlsplit(location).query == "lang=en"  # the query string is passed on
    token = urlsplit(location).path.removeprefix("/s/")
    assert len(token) == tokens.TOKEN_LENGTH
    assert answer.headers["cache-control"] == "no-store"
    uri = gs1.digital_link(product["gtin"], serials[0]).uri("tem.ocop.example.vn")
    assert answer.headers["link"] == f'<{uri}?linkType=linkset>; rel="linkset"'
    assert answer.headers["set-cookie"].startswith("ocop_device=")
    [row] = await scans(stamps)
    assert (row["serial"], row["verdict"], row["channel"], row["reasons"]) == (
        serials[0],
        "genuine",
        "html",
        [],
    )
    # The token names that very scan: its id and time.
    named = tokens.read(key_of(stamps), token, now=clock.now(), life=timedelta(hours=24))
    assert (named.id, named.scanned_at) == (row["id"], row["scanned_at"])

    for _ in range(2):  # the page, then a reload
        page = await stamps.get(location, headers=BROWSER)
        assert page.status_code == 200, page.text
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["cache-control"] == "no-store"
        assert "set-cookie" not in page.headers
        assert '<html lang="en" data-state="genuine"' in page.text
        assert "You are the first to verify this product." in page.text
        assert f'data-geo="/s/{token}/geo"' in page.text
        assert 'action="/v1/counterfeit-reports"' not in page.text  # nothing to report on a genuine stamp
    assert len(await scans(stamps)) == 1

    # A second scan counts; the first scan's page still shows the first scan.
    second = (await redirected(stamps, path)).headers["location"]
    assert second != location
    assert "Tem này đã được xác thực 2 lần" in (await stamps.get(second, headers=BROWSER)).text
    assert (
        "Bạn là người đầu tiên xác thực sản phẩm này." in (await stamps.get(location, headers=BROWSER)).text
    )
    assert len(await scans(stamps)) == 2


async def test_apps_and_linkset_clients_are_answered_as_before(stamps: httpx.AsyncClient) -> None:
    product, serials = await reserved(stamps, quantity=1)
    path = path_of(product, serials[0])
    json_answer = await stamps.get(path, headers=JSON)
    assert (json_answer.status_code, json_answer.json()["outcome"]) == (200, "not_activated")
    linkset = await stamps.get(path + "?linkType=linkset", headers=BROWSER)
    assert (linkset.status_code, linkset.headers["content-type"]) == (200, "application/linkset+json")
    # A browser asking for one link type is sent to it, not to a scan's page.
    pip = await stamps.get(path + "?linkType=gs1:pip", headers=BROWSER)
    assert pip.status_code == 307
    assert "/v1/catalogue/" in pip.headers["location"]
    logged = await scans(stamps)
    assert [row["channel"] for row in logged] == ["json", "linkset", "linkset"]
    # Only a browser's scan keeps its reasons (for its page).
    assert [row["reasons"] for row in logged] == [None, None, None]


async def test_the_short_link_and_an_unknown_stamp_redirect_too_and_a_malformed_link_does_not(
    stamps: httpx.AsyncClient,
) -> None:
    product, serials = await reserved(stamps, quantity=1)
    short = await redirected(stamps, f"/v/{gs1.grouped(serials[0]).lower()}")
    page = await stamps.get(short.headers["location"], headers=BROWSER)
    assert (page.status_code, 'data-state="not_activated"' in page.text) == (200, True)
    assert 'action="/v1/counterfeit-reports"' in page.text

    unknown = await redirected(stamps, path_of(product, gs1.new_serial()))
    page = await stamps.get(unknown.headers["location"], headers=BROWSER)
    assert (page.status_code, 'data-state="unknown"' in page.text) == (404, True)
    assert 'action="/v1/counterfeit-reports"' in page.text

    malformed = await stamps.get(f"/01/{product['gtin'].zfill(14)}/21/7K3Q9M2XH4TB8VNCAA", headers=BROWSER)
    assert (malformed.status_code, malformed.headers["content-type"]) == (400, "text/html; charset=utf-8")
    assert [row["verdict"] for row in await scans(stamps)] == ["not_activated", "unknown", "malformed"]


async def test_the_page_of_a_worrying_scan_keeps_its_verdict(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    _, serials = await active_stamps(stamps, product, quantity=1, lot="L2611A")
    location = (await redirected(stamps, path_of(product, serials[0], "L2611B"))).headers["location"]
    [row] = await scans(stamps)
    assert (row["verdict"], row["reasons"]) == ("caution", ["lot_mismatch"])
    # The stamp is revoked afterwards: the page of that scan still shows what the scan was told.
    revoked = await stamps.post(
        "/v1/stamps/revoke",
        json={"serials": serials, "reason": "revoke: kiểm tra"},
        headers=product["officer"],
    )
    assert revoked.status_code == 200, revoked.text
    page = (await stamps.get(location, headers=BROWSER)).text
    assert 'data-state="caution"' in page
    assert "Số lô trong mã không khớp với lô của tem." in page
    assert 'action="/v1/counterfeit-reports"' in page
    # A new scan sees the revocation.
    again = (await redirected(stamps, path_of(product, serials[0], "L2611A"))).headers["location"]
    assert 'data-state="revoked"' in (await stamps.get(again, headers=BROWSER)).text


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_a_forged_malformed_or_expired_token_gets_a_page_saying_to_scan_again(
    stamps: httpx.AsyncClient, lang: str
) -> None:
    _, serials = await reserved(stamps, quantity=1)
    [scan_id] = await logged_scans(
        stamps, {"serial": serials[0], "scanned_at": clock.now() - timedelta(hours=25), "channel": "html"}
    )
    scanned_at = (await scans(stamps))[0]["scanned_at"]
    key = key_of(stamps)
    valid_shape = tokens.issue(b"another key", scan_id, scanned_at)
    rescan = {"vi": "Hãy quét lại mã QR trên tem", "en": "Scan the QR code on the stamp again"}[lang]
    for token, status in (
        (valid_shape, 404),  # forged: signed with another key
        ("not-a-token", 404), ("A" * 43, 404), ("%F0%9F%92%A9" * 4, 404),
        (tokens.issue(key, scan_id + 1000, clock.now()), 404),  # signed, but no such scan
        (tokens.issue(key, scan_id, clock.now() + timedelta(hours=1)), 404),  # a scan in the future
        (tokens.issue(key, scan_id, scanned_at), 410),  # that scan, 25 hours ago
    ):  # fmt: skip
        page = await stamps.get(f"/s/{token}?lang={lang}", headers=BROWSER)
        assert page.status_code == status, (token, page.text)
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert rescan in page.text
    assert len(await scans(stamps)) == 1


# The consented location


async def test_a_location_is_shared_once_per_scan_and_stored_on_it(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    _, serials = await active_stamps(stamps, product, quantity=1)
    location = (await redirected(stamps, path_of(product, serials[0]))).headers["location"]
    geo = f"{urlsplit(location).path}/geo"

    shared = await stamps.post(geo, json={"lat": 21.028, "lon": 105.854, "accuracy": 35.5})
    assert shared.status_code == 204, shared.text
    [row] = await scans(stamps)
    assert (row["latitude"], row["longitude"], row["accuracy_m"], row["province_code"]) == (
        21.028, 105.854, 35.5, "01"
    )  # fmt: skip
    assert row["located_at"] is not None
    again = await stamps.post(geo, json={"lat": 10.776, "lon": 106.7})
    assert (again.status_code, again.json()["type"]) == (409, "/problems/location-already-shared")
    page = (await stamps.get(location, headers=BROWSER)).text
    assert "data-geo=" not in page  # no button once shared
    assert "Cảm ơn bạn, vị trí đã được ghi nhận." in page
    assert len(await scans(stamps)) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lat": 90.5, "lon": 105}, "body.lat"), ({"lat": -91, "lon": 105}, "body.lat"),
        ({"lat": 21, "lon": 180.1}, "body.lon"), ({"lat": 21}, "body.lon"), ({"lon": 105}, "body.lat"),
        ({"lat": 21, "lon": 105, "accuracy": -1}, "body.accuracy"),
        ({"lat": 21, "lon": 105, "accuracy": 100_001}, "body.accuracy"),
        ({"lat": "north", "lon": 105}, "body.lat"), ({"lat": True, "lon": 105}, "body.lat"),
        ({"lat": 21, "lon": 105, "altitude": 3}, "body.altitude"), ({"lat": 0.0, "accuracy": None}, "body.lon"),
        ({"lat": 21, "lon": 105, "accuracy": True}, "body.accuracy"),
    ],
)  # fmt: skip
async def test_an_invalid_location_is_a_422_naming_the_field(
    stamps: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    product, serials = await reserved(stamps, quantity=1)
    location = (await redirected(stamps, path_of(product, serials[0]))).headers["location"]
    answer = await stamps.post(f"{urlsplit(location).path}/geo", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in answer.json()["errors"]]
    [row] = await scans(stamps)
    assert row["latitude"] is None


async def test_a_location_needs_a_valid_living_token(stamps: httpx.AsyncClient) -> None:
    _, serials = await reserved(stamps, quantity=1)
    [scan_id] = await logged_scans(
        stamps, {"serial": serials[0], "scanned_at": clock.now() - timedelta(hours=25), "channel": "html"}
    )
    scanned_at = (await scans(stamps))[0]["scanned_at"]
    body = {"lat": 21.028, "lon": 105.854}
    expired = await stamps.post(f"/s/{tokens.issue(key_of(stamps), scan_id, scanned_at)}/geo", json=body)
    assert (expired.status_code, expired.json()["type"]) == (410, "/problems/scan-token-expired")
    forged = await stamps.post(f"/s/{tokens.issue(b'x', scan_id, scanned_at)}/geo", json=body)
    assert (forged.status_code, forged.json()["type"]) == (404, "/problems/scan-token-invalid")
    assert (await stamps.post("/s/nonsense/geo", json=body)).status_code == 404
    assert (await scans(stamps))[0]["latitude"] is None


async def test_the_scans_page_and_a_report_are_public_whoever_asks(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    _, serials = await active_stamps(stamps, product, quantity=1)
    location = (await redirected(stamps, path_of(product, serials[0]))).headers["location"]
    token = urlsplit(location).path.removeprefix("/s/")
    # The token is the capability: any caller, or none, sees the page and may report; a token of a role
    # changes nothing (the producer of another product included).
    for headers in (
        {}, auth("admin"), product["officer"], product["producer"], auth("producer", str(uuid.uuid4())),
        auth("commune_officer", "22001"), auth("council_member", str(uuid.uuid4())), auth("partner", "portal-1"),
        auth("national"), auth("service", "registry"), auth("province_officer", "01"),
    ):  # fmt: skip
        page = await stamps.get(location, headers={**BROWSER, **headers})
        assert (page.status_code, 'data-state="genuine"' in page.text) == (200, True), headers
        sent = await stamps.post(
            "/v1/counterfeit-reports",
            data={"token": token, "kind": "other", "description": "Thử"},
            headers=headers,
        )
        assert sent.status_code == 201, (headers, sent.text)
    assert len(await scans(stamps)) == 1


def test_production_refuses_the_development_keys() -> None:
    real: dict[str, Any] = {"scan_hash_key": "h" * 32, "scan_token_key": "t" * 32}
    base: dict[str, Any] = {"environment": "production", "database_url": "postgresql://u:Xk29vQ7@db/ocop"}
    assert StampsSettings(**base, **real).scan_token_signing() == (b"t" * 32, timedelta(hours=24))
    for name in real:
        for weak in ("short", "development-only-" + "x" * 32):
            with pytest.raises(ValueError, match=name):
                StampsSettings(**base, **{**real, name: weak})
        with pytest.raises(ValueError, match=name):
            StampsSettings(**base, **{key: value for key, value in real.items() if key != name})
