"""The GS1 resolver routes: verdicts, the scan log (always written before the answer), linksets, bad links."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.stamps.verification.repository import (
    ScanRow,
    SummaryRow,
    _scan_document,
    _summary_document,
    record_scans,
)
from services.stamps.verification.scanlog import ScanLog, ScanRequest
from shared import clock, gs1
from shared.db import create_read_pool
from tests.builders import active_stamps, certificate_changed, generated_batch, serials_of, stamped_product

pytestmark = pytest.mark.commits  # the scan log writes through its own connection
JSON = {"accept": "application/json"}


async def scans(stamps: httpx.AsyncClient, where: str = "true", *args: Any) -> list[dict[str, Any]]:
    """The scan log's rows, oldest first."""
    app = stamps._transport.app  # type: ignore[attr-defined]
    async with app.state.db.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        rows = await raw.driver_connection.fetch(  # type: ignore[union-attr]
            f"SELECT * FROM stamps.scan WHERE {where} ORDER BY id", *args
        )
    return [dict(row) for row in rows]


async def reserved(
    stamps: httpx.AsyncClient, quantity: int = 3, lot: str | None = None
) -> tuple[dict[str, Any], list[str]]:
    """A certified product and the serials of a generated (reserved, not yet activated) batch of it."""
    product = await stamped_product(stamps)
    batch = await generated_batch(stamps, product, quantity=quantity, lot=lot)
    return product, await serials_of(stamps, batch)


def path_of(product: dict[str, Any], serial: str, lot: str | None = None) -> str:
    return gs1.digital_link(product["gtin"], serial, lot).path()


async def test_a_stamp_not_yet_activated_warns_and_the_scan_is_logged_before_the_answer(
    stamps: httpx.AsyncClient,
) -> None:
    product, serials = await reserved(stamps)
    answer = await stamps.get(path_of(product, serials[0]), headers={**JSON, "user-agent": "Zalo/1.0"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["outcome"], body["reasons"], body["rules"]) == ("not_activated", ["not_activated"], ["R2"])
    assert body["risk"] == {"score": 70, "band": "suspected"}
    assert body["product"]["name"] == product["name"]
    assert body["origin"] == {
        "commune": "Phường Hạ Long",
        "province": "Tỉnh Quảng Ninh",
        "province_code": "22",
    }
    assert body["certificate"]["verdict"] == "certified"
    assert body["stamp"]["state"] == "reserved"
    assert body["verifications"]["you_are_first"] is True
    assert body["uri"] == f"HTTPS://TEM.OCOP.EXAMPLE.VN/01/{product['gtin'].zfill(14)}/21/{serials[0]}"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["access-control-allow-origin"] == "*"
    assert 'rel="linkset"' in answer.headers["link"]
    [row] = await scans(stamps)
    assert (row["serial"], row["verdict"], row["rules"], row["risk"], row["channel"]) == (
        serials[0], "not_activated", ["R2"], 70, "json"
    )  # fmt: skip
    assert row["user_agent"] == "Zalo/1.0"
    assert row["gtin"] == product["gtin"].zfill(14)


async def test_the_short_link_and_a_serial_typed_by_hand_name_the_same_stamp(
    stamps: httpx.AsyncClient,
) -> None:
    _, serials = await reserved(stamps, quantity=1)
    typed = gs1.grouped(serials[0]).lower().replace("0", "o").replace("1", "l")
    for code in (serials[0], typed):
        answer = await stamps.get(f"/v/{code}", headers=JSON)
        assert answer.status_code == 200, answer.text
        assert (answer.json()["serial"], answer.json()["outcome"]) == (serials[0], "not_activated")
    body = answer.json()
    assert body["verifications"]["count"] == 2
    assert body["verifications"]["you_are_first"] is False
    assert body["uri"].endswith(f"/21/{serials[0]}")


async def test_an_unknown_serial_is_no_stamp_of_ours_and_is_logged(stamps: httpx.AsyncClient) -> None:
    product, _ = await reserved(stamps, quantity=1)
    never_issued = gs1.new_serial()
    answer = await stamps.get(path_of(product, never_issued), headers=JSON)
    assert answer.status_code == 404, answer.text
    body = answer.json()
    assert (body["outcome"], body["rules"], body["risk"]["score"]) == ("unknown", ["R1"], 80)
    assert (body["product"], body["verifications"]) == (None, None)
    [row] = await scans(stamps)
    assert (row["serial"], row["verdict"], row["batch_id"]) == (never_issued, "unknown", None)


async def test_a_real_serial_under_another_gtin_is_unknown_and_reveals_nothing(
    stamps: httpx.AsyncClient,
) -> None:
    product, serials = await reserved(stamps, quantity=1)
    other = await stamped_product(stamps)
    answer = await stamps.get(path_of(other, serials[0]), headers=JSON)
    assert answer.status_code == 404
    assert (answer.json()["outcome"], answer.json()["reasons"], answer.json()["product"]) == (
        "unknown", ["gtin_mismatch"], None
    )  # fmt: skip
    # It does not count as a verification of the real stamp.
    real = await stamps.get(path_of(product, serials[0]), headers=JSON)
    assert real.json()["verifications"]["you_are_first"] is True


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/01/12345678901234/21/7K3Q9M2XH4TB8VNCF9", "gtin"),  # check digit wrong
        ("/01/8934567000017/21/TOO-SHORT", "serial"),
        ("/01/08934567000017/21/7K3Q9M2XH4TB8VNCAA", "serial"),  # check pair wrong
        ("/01/08934567000017/21/7K3Q9M2XH4TB8VNCF9/10/L1", "uri"),  # qualifiers out of order
        ("/01/08934567000017", "uri"),
        ("/01/08934567000017/10/L%20A/21/7K3Q9M2XH4TB8VNCF9", "lot"),  # a space is not CSET 82
        ("/v/NOT-A-SERIAL", "serial"),
    ],
)
async def test_a_malformed_link_is_a_400_naming_the_part_and_is_logged(
    stamps: httpx.AsyncClient, path: str, field: str
) -> None:
    answer = await stamps.get(path, headers=JSON)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert (body["type"], body["field"], body["outcome"]) == ("/problems/malformed-link", field, "malformed")
    [row] = await scans(stamps)
    assert (row["verdict"], row["rules"], row["serial"]) == ("malformed", ["R0"], None)
    assert row["path"] == path.split("?")[0][:300]


async def test_addresses_and_devices_are_logged_only_as_hashes_and_the_address_salt_changes_daily(
    stamps: httpx.AsyncClient,
) -> None:
    product, serials = await reserved(stamps, quantity=1)
    path = path_of(product, serials[0])
    headers = {**JSON, "x-forwarded-for": "203.0.113.9, 198.51.100.7", "x-device-id": "device-42"}
    await stamps.get(path, headers=headers)
    await stamps.get(path, headers=headers)
    tomorrow = clock.now() + timedelta(days=1)
    with clock.frozen_at(tomorrow):
        await stamps.get(path, headers=headers)
    first, second, third = await scans(stamps)
    for row in (first, second, third):
        assert len(row["ip_hash"]) == 16
        assert b"198.51.100.7" not in row["ip_hash"]
    # The gateway's own entry (the last) is the address used; the same day hashes it the same.
    assert first["ip_hash"] == second["ip_hash"] != third["ip_hash"]
    assert first["device_hash"] == second["device_hash"] == third["device_hash"]
    cookie = await stamps.get(path, headers={**JSON, "cookie": "ocop_device=device-42"})
    assert cookie.status_code == 200
    assert (await scans(stamps))[-1]["device_hash"] == first["device_hash"]


async def test_a_consented_location_is_logged_and_a_bad_one_is_a_400(stamps: httpx.AsyncClient) -> None:
    product, serials = await reserved(stamps, quantity=1)
    path = path_of(product, serials[0])
    answer = await stamps.get(
        path, params={"lat": "20.9517", "lon": "107.0806", "accuracy": "35"}, headers=JSON
    )
    assert answer.status_code == 200
    [row] = await scans(stamps)
    assert (row["latitude"], row["longitude"], row["accuracy_m"]) == (20.9517, 107.0806, 35.0)
    for params, field in (
        ({"lat": "91", "lon": "107"}, "query.lat"),
        ({"lat": "20.9"}, "query.lon"),
        ({"lat": "20.9", "lon": "nan"}, "query.lon"),
        ({"lat": "20.9", "lon": "107", "accuracy": "-1"}, "query.accuracy"),
    ):
        bad = await stamps.get(path, params=params, headers=JSON)
        assert (bad.status_code, bad.json()["field"]) == (400, field), params


async def test_the_linkset_and_link_types_of_a_stamp(stamps: httpx.AsyncClient) -> None:
    product, serials = await reserved(stamps, quantity=1)
    path = path_of(product, serials[0])
    for request in ({"params": {"linkType": "linkset"}}, {"params": {"linkType": "all"}},
                    {"headers": {"accept": "application/linkset+json"}}):  # fmt: skip
        answer = await stamps.get(path, **request)  # type: ignore[arg-type]
        assert answer.status_code == 200, request
        assert answer.headers["content-type"] == "application/linkset+json"
        [entry] = answer.json()["linkset"]
        assert entry["anchor"].endswith(f"/21/{serials[0]}")
        assert set(entry) == {
            "anchor", "https://gs1.org/voc/defaultLink", "https://gs1.org/voc/pip",
            "https://gs1.org/voc/certificationInfo",
        }  # fmt: skip
        assert len(entry["https://gs1.org/voc/defaultLink"]) == 1
    pip = await stamps.get(path, params={"linkType": "gs1:pip"})
    assert pip.status_code == 307
    assert pip.headers["location"] == f"https://tem.ocop.example.vn/v1/catalogue/{product['id']}"
    missing = await stamps.get(path, params={"linkType": "gs1:recipeInfo"}, headers=JSON)
    assert (missing.status_code, missing.json()["type"]) == (404, "/problems/unknown-link-type")
    assert [row["channel"] for row in await scans(stamps)] == ["linkset"] * 5


async def test_the_resolver_description_file(stamps: httpx.AsyncClient) -> None:
    answer = await stamps.get("/.well-known/gs1resolver")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["resolverRoot"], body["supportedPrimaryKeys"]) == ("https://tem.ocop.example.vn", ["01"])
    assert {"namespace": "https://gs1.org/voc/", "prefix": "gs1:"} in body["supportedLinkType"]


async def test_concurrent_scans_of_one_stamp_are_each_logged_and_counted_once(
    stamps: httpx.AsyncClient,
) -> None:
    product, serials = await reserved(stamps, quantity=2)
    paths = [path_of(product, serials[i % 2]) for i in range(40)]
    answers = await asyncio.gather(*(stamps.get(path, headers=JSON) for path in paths))
    assert {answer.status_code for answer in answers} == {200}
    counts = sorted(
        answer.json()["verifications"]["count"] for answer in answers if answer.json()["serial"] == serials[0]
    )
    assert counts == list(range(1, 21))
    firsts = [answer for answer in answers if answer.json()["verifications"]["you_are_first"]]
    assert len(firsts) == 2
    assert len(await scans(stamps)) == 40
    again = (await stamps.get(paths[0], headers=JSON)).json()["verifications"]
    assert again["count"] == 21
    assert datetime.fromisoformat(again["first_at"]) <= datetime.now(UTC)


async def test_scans_land_in_monthly_partitions(stamps: httpx.AsyncClient) -> None:
    product, serials = await reserved(stamps, quantity=1)
    await stamps.get(path_of(product, serials[0]), headers=JSON)
    [row] = await scans(stamps, "tableoid::regclass::text = $1", f"stamps.scan_{clock.now():%Y_%m}")
    assert row["serial"] == serials[0]
    partitions = await scans_partitions(stamps)
    assert f"scan_{clock.now():%Y_%m}" in partitions
    assert len(partitions) >= 12


async def scans_partitions(stamps: httpx.AsyncClient) -> list[str]:
    app = stamps._transport.app  # type: ignore[attr-defined]
    async with app.state.db.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        rows = await raw.driver_connection.fetch(  # type: ignore[union-attr]
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'stamps.scan'::regclass ORDER BY 1"
        )
    return [row["relname"] for row in rows]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tail=st.text(
        alphabet=st.sampled_from(list("0123456789ABCDEFGHJKMNPQRSTVWXYZ/%-._~!*'();:@&=+$,?#[] éÆ")),
        max_size=80,
    )
)
async def test_no_input_makes_the_resolver_answer_500(stamps: httpx.AsyncClient, tail: str) -> None:
    for prefix in ("/01/", "/v/", "/01/08934567000017/21/", "/01/08934567000017/10/"):
        answer = await stamps.get(prefix + tail, headers=JSON)
        assert answer.status_code < 500, (prefix + tail, answer.text)


async def test_an_active_stamp_of_a_certified_product_is_genuine_and_the_first_scan_says_so(
    stamps: httpx.AsyncClient,
) -> None:
    product = await stamped_product(stamps, images=["https://cdn.example.vn/cha-muc.jpg"])
    made = clock.today() - timedelta(days=3)
    _, serials = await active_stamps(
        stamps, product, 2, lot="L2611A", production_date=made, expiry_date=made + timedelta(days=180)
    )
    path = path_of(product, serials[0], "L2611A")
    first = await stamps.get(path, headers=JSON)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["outcome"], body["reasons"], body["rules"], body["risk"]) == (
        "genuine", [], [], {"score": 0, "band": "normal"}
    )  # fmt: skip
    assert body["stamp"]["state"] == "active"
    assert (body["stamp"]["lot"], body["stamp"]["production_date"], body["stamp"]["expired"]) == (
        "L2611A", made.isoformat(), False
    )  # fmt: skip
    assert body["product"]["image"] == "https://cdn.example.vn/cha-muc.jpg"
    assert body["producer"]["name"] == product["entity_legal_name"]
    assert (body["certificate"]["star"], body["certificate"]["verdict"]) == (4, "certified")
    assert body["verifications"]["you_are_first"] is True
    again = (await stamps.get(path, headers=JSON)).json()
    assert again["outcome"] == "genuine"
    assert (again["verifications"]["count"], again["verifications"]["you_are_first"]) == (2, False)
    assert again["verifications"]["first_at"] == body["verifications"]["first_at"]


async def test_a_link_with_another_lot_than_the_stamp_bound_is_a_caution(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    _, serials = await active_stamps(stamps, product, 1, lot="L2611A")
    body = (await stamps.get(path_of(product, serials[0], "L9999Z"), headers=JSON)).json()
    assert (body["outcome"], body["reasons"]) == ("caution", ["lot_mismatch"])


async def test_a_product_past_its_expiry_date_is_flagged_but_not_called_fake(
    stamps: httpx.AsyncClient,
) -> None:
    product = await stamped_product(stamps)
    made = clock.today() - timedelta(days=400)
    _, serials = await active_stamps(
        stamps, product, 1, production_date=made, expiry_date=made + timedelta(days=365)
    )
    body = (await stamps.get(path_of(product, serials[0]), headers=JSON)).json()
    assert (body["outcome"], body["reasons"], body["rules"]) == ("genuine", ["product_expired"], ["R12"])
    assert body["stamp"]["expired"] is True


@pytest.mark.parametrize(
    ("action", "outcome", "reason", "rules"),
    [
        ("suspend", "caution", "stamp_suspended", []),
        ("revoke", "revoked", "stamp_revoked", ["R3"]),
        ("void", "revoked", "stamp_void", ["R3"]),
    ],
)
async def test_a_suspended_revoked_or_void_stamp_says_so(
    stamps: httpx.AsyncClient, action: str, outcome: str, reason: str, rules: list[str]
) -> None:
    product = await stamped_product(stamps)
    _, serials = await active_stamps(stamps, product, 2)
    changed = await stamps.post(
        f"/v1/stamps/{action}", json={"serials": [serials[0]], "reason": "Tem nghi bị sao chép"},
        headers=product["officer"],
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    body = (await stamps.get(path_of(product, serials[0]), headers=JSON)).json()
    assert (body["outcome"], body["reasons"], body["rules"]) == (outcome, [reason], rules)
    state = {"suspend": "suspended", "revoke": "revoked", "void": "void"}[action]
    assert (body["stamp"]["state"], body["product"]["name"]) == (state, product["name"])
    untouched = (await stamps.get(path_of(product, serials[1]), headers=JSON)).json()
    assert untouched["outcome"] == "genuine"


@pytest.mark.parametrize(
    ("status", "outcome", "reason"),
    [("revoked", "revoked", "certificate_revoked"), ("expired", "caution", "certificate_expired")],
)
async def test_a_revoked_or_expired_certificate_shows_on_every_stamp_at_the_next_scan(
    stamps: httpx.AsyncClient, status: str, outcome: str, reason: str
) -> None:
    product = await stamped_product(stamps)
    _, serials = await active_stamps(stamps, product, 3)
    assert {(await stamps.get(path_of(product, s), headers=JSON)).json()["outcome"] for s in serials} == {
        "genuine"
    }
    certificate = await certificate_changed(stamps, product, status)
    assert certificate.status_code == 200, certificate.text
    for serial in serials:
        body = (await stamps.get(path_of(product, serial), headers=JSON)).json()
        assert (body["outcome"], body["reasons"][0], body["certificate"]["verdict"]) == (
            outcome,
            reason,
            status,
        )


async def test_the_resolver_keeps_request_ids_its_documented_routes_and_other_paths(
    stamps: httpx.AsyncClient,
) -> None:
    answer = await stamps.get("/v/NOT-A-SERIAL", headers={**JSON, "x-request-id": "scan-0123456789"})
    assert answer.status_code == 400
    assert answer.headers["x-request-id"] == "scan-0123456789"
    assert (answer.json()["request_id"], answer.json()["instance"]) == ("scan-0123456789", "/v/NOT-A-SERIAL")
    paths = (await stamps.get("/openapi.json")).json()["paths"]
    assert {"/01/{rest}", "/v/{code}", "/.well-known/gs1resolver"} <= set(paths)
    # Not a resolver path: the framework's own answers.
    assert (await stamps.get("/v/a/b", headers=JSON)).status_code == 404
    assert (await stamps.post("/v/7K3Q9M2XH4TB8VNCF9", headers=JSON)).status_code == 405
    assert len(await scans(stamps)) == 1


async def test_batches_in_flight_together_never_share_a_serial_so_counts_stay_exact(
    stamps: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two batches are logged at once; a serial waits for its flight to land, so each scan counts once, in order."""
    product, serials = await reserved(stamps, quantity=6)
    app = stamps._transport.app  # type: ignore[attr-defined]
    settings = app.state.settings
    pool = await create_read_pool(
        settings.database_url.get_secret_value(), application_name="test-scans", min_size=2, max_size=2
    )
    log = ScanLog(pool, device_key=b"k" * 32, max_batch=4, in_flight=2)
    flying = 0
    most_flying = 0
    original = log._log

    async def counted(batch: Any) -> Any:
        nonlocal flying, most_flying
        flying += 1
        most_flying = max(most_flying, flying)
        try:
            return await original(batch)
        finally:
            flying -= 1

    monkeypatch.setattr(log, "_log", counted)
    await log.start()
    try:
        # Two busy serials among four others: most batches find a serial of theirs already in flight.
        order = [serials[i % 2] if i % 3 else serials[2 + i % 4] for i in range(60)]
        answers = await asyncio.gather(
            *(
                log.verify(
                    ScanRequest(
                        serial, product["gtin"].zfill(14), None, None, "api", "198.51.100.7", None, None
                    )
                )
                for serial in order
            )
        )
    finally:
        await log.stop()
        await pool.close()
    assert most_flying == 2
    for serial in set(order):
        counts = [a.history.count for s, a in zip(order, answers, strict=True) if s == serial and a.history]
        assert counts == list(range(1, order.count(serial) + 1))  # each scan once, in arrival order
    assert len(await scans(stamps)) == 60


async def test_a_logged_batch_keeps_every_field_of_its_scans_and_adds_to_their_summaries(
    stamps: httpx.AsyncClient,
) -> None:
    """The write carries each scan as it was judged: times to the microsecond with their offset (a naive one
    as UTC), hashes as bytes, Vietnamese text, coordinates exactly; summaries add to the stamps' counts."""
    product, serials = await reserved(stamps, quantity=2)
    app = stamps._transport.app  # type: ignore[attr-defined]
    batch_id = await scans_batch_id(stamps, serials[0])
    hanoi = timezone(timedelta(hours=7))
    at = datetime(2026, 11, 30, 21, 5, 7, 123456, tzinfo=hanoi)
    naive = datetime(2026, 11, 30, 14, 5, 8, 654321)  # noqa: DTZ001 -- naive on purpose: read as UTC
    rows = [
        ScanRow(at, serials[0], product["gtin"].zfill(14), "LÔ-1", "/01/x/21/y", batch_id, "caution", "R3,R12", 40,
                "web", bytes(range(16)), b"\x00" * 15 + b"\xff", "Trình duyệt Cốc Cốc \u2014 iPhone", 20.951734512,
                107.080612345, 12.5, "22", "lot_mismatch,product_expired", True),
        ScanRow(naive, serials[1], product["gtin"].zfill(14), None, None, batch_id, "genuine", "", 0, "api", None,
                None, None, None, None, None, None, None, False),
        ScanRow(at, None, None, None, "/01/bad", None, "malformed", "", 0, "api", None, None, None, None, None, None,
                None, None, False),
    ]  # fmt: skip
    summaries = [SummaryRow(serials[1], 1, naive.replace(tzinfo=UTC), None, naive.replace(tzinfo=UTC)),
                 SummaryRow(serials[0], 2, at, "22", at)]  # fmt: skip
    pool = await create_read_pool(
        app.state.settings.database_url.get_secret_value(),
        application_name="test-scans",
        min_size=1,
        max_size=1,
    )
    try:
        async with pool.acquire() as connection:
            # A session in Hà Nội's time zone: a naive time must still be read as UTC.
            await connection.execute("SET TIME ZONE 'Asia/Ho_Chi_Minh'")
            ids = await record_scans(connection, rows, summaries, numbered=True)
            again = await record_scans(connection, rows[:1], summaries[1:], numbered=False)
            summary = {
                row["serial"]: (row["scan_count"], row["first_scanned_at"], row["first_scan_province"])
                for row in await connection.fetch(
                    "SELECT * FROM stamps.stamp_scan WHERE serial = ANY($1::varchar[])", serials
                )
            }
    finally:
        await pool.close()
    assert again is None
    assert ids is not None
    assert ids == sorted(ids)
    logged = await scans(stamps, "id = ANY($1::bigint[])", ids)
    assert [row["id"] for row in logged] == ids
    first, second, bad = logged
    assert first["scanned_at"] == at
    assert (first["serial"], first["lot"], first["path"], str(first["batch_id"])) == (
        serials[0], "LÔ-1", "/01/x/21/y", str(batch_id),
    )  # fmt: skip
    assert (first["verdict"], first["rules"], first["risk"], first["channel"]) == (
        "caution",
        ["R3", "R12"],
        40,
        "web",
    )
    assert (first["ip_hash"], first["device_hash"]) == (bytes(range(16)), b"\x00" * 15 + b"\xff")
    assert first["user_agent"] == "Trình duyệt Cốc Cốc \u2014 iPhone"
    assert (first["latitude"], first["longitude"], first["accuracy_m"]) == (20.951734512, 107.080612345, 12.5)
    assert (first["province_code"], first["reasons"], first["first_scan"]) == (
        "22", ["lot_mismatch", "product_expired"], True,
    )  # fmt: skip
    assert second["scanned_at"] == naive.replace(tzinfo=UTC)
    assert (second["lot"], second["ip_hash"], second["latitude"], second["rules"], second["reasons"]) == (
        None, None, None, [], None,
    )  # fmt: skip
    assert (bad["serial"], bad["batch_id"], bad["verdict"]) == (None, None, "malformed")
    assert summary == {serials[0]: (4, at, "22"), serials[1]: (1, naive.replace(tzinfo=UTC), None)}


def test_the_write_carries_every_field_of_a_scan_and_of_a_summary() -> None:
    """The JSON documents name each field of ``ScanRow`` and ``SummaryRow``: a new one is not dropped silently."""
    scan = ScanRow(*(None for _ in dataclasses.fields(ScanRow)))
    assert [field.name for field in dataclasses.fields(ScanRow)] == list(_scan_document(scan))
    summary = SummaryRow(*(None for _ in dataclasses.fields(SummaryRow)))  # type: ignore[arg-type]
    assert len(_summary_document(summary)) == len(dataclasses.fields(SummaryRow))


async def scans_batch_id(stamps: httpx.AsyncClient, serial: str) -> Any:
    app = stamps._transport.app  # type: ignore[attr-defined]
    async with app.state.db.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        return await raw.driver_connection.fetchval(  # type: ignore[union-attr]
            "SELECT batch_id FROM stamps.stamp WHERE serial = $1", serial
        )


async def test_the_scan_log_flags_exactly_each_serials_first_scan(stamps: httpx.AsyncClient) -> None:
    """R11 counts ``first_scan``: true on a known serial's first counted scan only, in one batch or across them."""
    product, serials = await reserved(stamps, quantity=3)
    other_batch = await generated_batch(stamps, product, quantity=2)
    others = await serials_of(stamps, other_batch)
    another_product = await stamped_product(stamps)
    # Several scans of one serial in one logged batch (concurrent), and a serial's scans across batches.
    together = (
        [path_of(product, serials[0])] * 5
        + [path_of(product, serials[1])] * 3
        + [path_of(product, others[0])] * 2
    )
    answers = await asyncio.gather(*(stamps.get(path, headers=JSON) for path in together))
    assert {answer.status_code for answer in answers} == {200}
    for path in (path_of(product, serials[0]), path_of(product, others[1]), path_of(product, others[1])):
        assert (await stamps.get(path, headers=JSON)).status_code == 200
    # Never first: an unknown serial, a real serial under another product's GTIN (it does not count as a
    # verification of the stamp, so its later real scan is the first), and malformed links.
    assert (await stamps.get(path_of(product, gs1.new_serial()), headers=JSON)).status_code == 404
    assert (await stamps.get(path_of(another_product, serials[2]), headers=JSON)).status_code == 404
    assert (await stamps.get(path_of(product, serials[2]), headers=JSON)).status_code == 200
    assert (await stamps.get("/v/NOT-A-SERIAL", headers=JSON)).status_code == 400

    logged = await scans(stamps)
    assert len(logged) == len(together) + 3 + 4
    flagged = [row for row in logged if row["first_scan"]]
    assert sorted(row["serial"] for row in flagged) == sorted([*serials, *others])
    for row in flagged:
        of_serial = [r for r in logged if r["serial"] == row["serial"] and r["verdict"] != "unknown"]
        assert row["scanned_at"] == min(r["scanned_at"] for r in of_serial)
        assert row["batch_id"] is not None
    assert not any(row["first_scan"] for row in logged if row["verdict"] in ("unknown", "malformed"))
    # The verdict says the same: one "you are the first" per serial among the concurrent scans.
    assert sum(answer.json()["verifications"]["you_are_first"] for answer in answers) == 3
