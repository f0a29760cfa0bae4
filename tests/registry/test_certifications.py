"""Scoring's certificate events at /internal/events: who may deliver, what a valid certificate is, at least once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.registry.products import certificates
from shared import clock
from shared.events.signing import sign
from tests import builders
from tests.builders import MINISTRY_AUTHORITY as MINISTRY
from tests.builders import SCORING, Producer, deliver, post_event, signed_event
from tests.conftest import auth
from tests.support.keys import EVENT_SECRETS

PATH = "/internal/events"


def event(product: dict[str, Any], **overrides: object) -> dict[str, Any]:
    """A 4★ provincial certificate of its own for ``product``, issued on 1 February 2026."""
    return builders.certificate(
        product["id"], **({"issued_on": "2026-02-01", "decision_number": "1234/QĐ-UBND"} | overrides)
    )


def data(body: dict[str, Any]) -> dict[str, Any]:
    """An event's data: the certificate without the test's event id."""
    return {name: value for name, value in body.items() if name != "event_id"}


async def read(client: httpx.AsyncClient, producer: Producer, product: dict[str, Any]) -> dict[str, Any]:
    response = await client.get(f"/v1/products/{product['id']}", headers=producer.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def certificate_rows(db: asyncpg.Connection, product_id: str) -> list[asyncpg.Record]:
    return list(
        await db.fetch(
            "SELECT * FROM registry.certificate WHERE product_id = $1 ORDER BY issued_on",
            uuid.UUID(product_id),
        )
    )


# The rules, as pure functions


@pytest.mark.parametrize(
    ("issued_on", "expected"),
    [
        (date(2026, 2, 1), date(2029, 2, 1)),
        (date(2024, 2, 29), date(2027, 2, 28)),
        (date(2025, 12, 31), date(2028, 12, 31)),
        (date(2023, 8, 31), date(2026, 8, 31)),
    ],
)
def test_validity_is_36_months(issued_on: date, expected: date) -> None:
    assert certificates.expiry(issued_on, certificates.version_in_force(issued_on)) == expected
    assert certificates.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert certificates.add_months(date(2026, 11, 15), 2) == date(2027, 1, 15)


def test_a_criteria_version_may_set_its_own_term() -> None:
    short = certificates.CriteriaVersion("26/2026", date(2026, 5, 22), validity_months=24)
    assert certificates.expiry(date(2026, 6, 1), short) == date(2028, 6, 1)
    assert certificates.expiry(date(2018, 6, 1), None) == date(2021, 6, 1)


@pytest.mark.parametrize(
    ("on", "code"),
    [
        (date(2019, 8, 20), None), (date(2019, 8, 21), "1048"), (date(2020, 6, 8), "1048+781"),
        (date(2023, 2, 24), "148"), (date(2025, 7, 5), "148"), (date(2025, 7, 6), "148+1489"),
        (date(2026, 5, 22), "26/2026"),
    ],
)  # fmt: skip
def test_the_version_in_force(on: date, code: str | None) -> None:
    version = certificates.version_in_force(on)
    assert (version.code if version else None) == code


@pytest.mark.parametrize(
    ("star", "code", "levels"),
    [
        (5, "148", {"central"}), (5, None, {"central"}), (4, "148", {"province"}),
        (3, "1048", {"province"}), (3, "1048+781", {"province", "district"}), (3, "148", {"province", "district"}),
        (3, "148+1489", {"province"}), (3, "26/2026", {"province"}), (4, "1048+781", {"province"}),
    ],
)  # fmt: skip
def test_who_certifies_which_star(star: int, code: str | None, levels: set[str]) -> None:
    version = certificates.VERSIONS[code] if code else None  # type: ignore[index]
    assert certificates.certifying_levels(star, version) == levels


# Who may deliver


async def test_only_scorings_signed_deliveries_are_applied(
    registry_client: httpx.AsyncClient, producer: Producer, db: asyncpg.Connection
) -> None:
    product = await builders.product(registry_client, producer)
    body = event(product)
    data = {name: value for name, value in body.items() if name != "event_id"}
    payload, headers = signed_event("scoring.certificate.issued", data)
    unsigned = await registry_client.post(PATH, content=payload, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    assert unsigned.headers["content-type"] == "application/problem+json"
    assert unsigned.json()["type"] == "/problems/event-signature-invalid"
    tampered = await registry_client.post(PATH, content=payload.replace(b'"ocop_star":4', b'"ocop_star":5'),
                                          headers=headers)  # fmt: skip
    assert tampered.status_code == 401
    # A bearer token, even an administrator's or scoring's own, is no signature.
    for token in (auth("admin"), SCORING):
        denied = await registry_client.post(
            PATH, content=payload, headers={"Content-Type": "application/json", **token}
        )
        assert denied.status_code == 401
    # Signed with another source's secret (the registry's own), or claiming to be another source.
    assert (
        await post_event(registry_client, "scoring.certificate.issued", data, source="registry")
    ).status_code == 401
    _, registry_signed = signed_event("registry.product.updated", data)
    forged = await registry_client.post(PATH, content=payload, headers={**headers, **{
        k: v for k, v in registry_signed.items() if k.lower() == "x-ocop-signature"}})  # fmt: skip
    assert forged.status_code == 401
    # Who is asked before what: a body that would be a 400 is still a 401 unsigned.
    assert (await registry_client.post(PATH, content=b"{}")).status_code == 401
    assert await db.fetchval("SELECT count(*) FROM registry.inbox_event") == 0
    assert (await read(registry_client, producer, product))["ocop_star"] is None
    assert (await registry_client.post(PATH, content=payload, headers=headers)).json()["outcome"] == "applied"
    assert (await read(registry_client, producer, product))["ocop_star"] == 4


async def test_a_signature_outside_the_replay_window_is_refused(
    registry_client: httpx.AsyncClient, producer: Producer
) -> None:
    product = await builders.product(registry_client, producer)
    data = {name: value for name, value in event(product).items() if name != "event_id"}
    payload, headers = signed_event("scoring.certificate.issued", data)
    old = int(clock.now().timestamp()) - 301
    headers["X-OCOP-Signature"] = sign(EVENT_SECRETS["scoring"], payload, timestamp=old)
    replayed = await registry_client.post(PATH, content=payload, headers=headers)
    assert replayed.status_code == 401
    assert (await read(registry_client, producer, product))["ocop_star"] is None


async def test_malformed_envelopes_are_400_and_unknown_types_are_ignored(
    registry_client: httpx.AsyncClient, producer: Producer, db: asyncpg.Connection
) -> None:
    def signed(raw: bytes) -> dict[str, str]:
        return {"Content-Type": "application/json", "X-OCOP-Signature": sign(EVENT_SECRETS["scoring"], raw)}

    for raw, field in ((b"not json", "body"), (b"[1]", "body"), (b'{"id": "x"}', "body.id")):
        answer = await registry_client.post(PATH, content=raw, headers=signed(raw))
        assert answer.status_code == 400, raw
        assert answer.json()["type"] == "/problems/event-envelope-malformed"
        assert field in {error["field"] for error in answer.json()["errors"]}
    payload, headers = signed_event("scoring.certificate.issued", {"product_id": str(uuid.uuid4())})
    mismatched = await registry_client.post(
        PATH, content=payload, headers={**headers, "Idempotency-Key": str(uuid.uuid4())}
    )
    assert mismatched.status_code == 400
    unknown = await post_event(registry_client, "scoring.council.renamed", {"name": "x"}, subject="council/1")
    assert (unknown.status_code, unknown.json()["outcome"]) == (200, "ignored")
    assert (
        await db.fetchval("SELECT outcome FROM registry.inbox_event WHERE type = 'scoring.council.renamed'")
        == "ignored"
    )


async def test_an_unknown_product_is_404_on_product_id(registry_client: httpx.AsyncClient) -> None:
    missing = await deliver(registry_client, event({"id": str(uuid.uuid4())}), 404)
    assert (missing["type"], missing["field"]) == ("/problems/product-not-found", "data.product_id")


# What a valid certificate is


@pytest.mark.parametrize("star", [0, 1, 2, 6])
async def test_only_three_to_five_stars_certify(
    registry_client: httpx.AsyncClient, producer: Producer, star: int
) -> None:
    product = await builders.product(registry_client, producer)
    refused = await deliver(registry_client, event(product, ocop_star=star), 422)
    assert refused["errors"][0]["field"] == "data.ocop_star"
    assert (await read(registry_client, producer, product))["status"] == "idea"


@pytest.mark.parametrize(
    ("star", "level", "issued_on", "accepted"),
    [
        (5, "central", "2026-02-01", True), (5, "province", "2026-02-01", False), (5, "district", "2023-06-01", False),
        (4, "province", "2026-02-01", True), (4, "central", "2026-02-01", False), (4, "district", "2023-06-01", False),
        (3, "province", "2026-02-01", True), (3, "district", "2023-06-01", True), (3, "district", "2020-06-08", True),
        (3, "district", "2020-06-07", False), (3, "district", "2025-07-06", False), (3, "central", "2023-06-01", False),
    ],
)  # fmt: skip
async def test_the_level_matches_the_star(
    registry_client: httpx.AsyncClient,
    producer: Producer,
    star: int,
    level: str,
    issued_on: str,
    accepted: bool,
) -> None:
    product = await builders.product(registry_client, producer)
    body = event(product, ocop_star=star, level=level, issued_on=issued_on)
    if accepted:
        assert (await deliver(registry_client, body))["certificate_level"] == level
        return
    refused = await deliver(registry_client, body, 422)
    assert refused["errors"][0]["field"] == "data.level"
    assert str(star) in refused["errors"][0]["message"]
    assert (await read(registry_client, producer, product))["ocop_star"] is None


async def test_expiry_is_36_months_after_issue(
    registry_client: httpx.AsyncClient, producer: Producer, db: asyncpg.Connection
) -> None:
    product = await builders.product(registry_client, producer)
    computed = await deliver(registry_client, event(product, issued_on="2024-02-29"))
    assert computed["certificate_expires_on"] == "2027-02-28"
    for wrong in ("2027-02-27", "2027-03-01", "2026-02-28", "2024-02-28"):
        refused = await deliver(
            registry_client, event(product, issued_on="2024-02-29", expires_on=wrong), 422
        )
        assert refused["errors"][0]["field"] == "data.expires_on"
        assert "2027-02-28" in refused["errors"][0]["message"]
    given = await deliver(registry_client, event(product, issued_on="2026-02-01", expires_on="2029-02-01"))
    assert given["certificate_expires_on"] == "2029-02-01"
    assert [row["expires_on"] for row in await certificate_rows(db, product["id"])] == [
        date(2027, 2, 28), date(2029, 2, 1)
    ]  # fmt: skip


async def test_the_criteria_version_must_be_in_force_and_is_kept(
    registry_client: httpx.AsyncClient, producer: Producer, db: asyncpg.Connection
) -> None:
    product = await builders.product(registry_client, producer)
    early = await deliver(
        registry_client, event(product, criteria_version="26/2026", issued_on="2026-05-21"), 422
    )
    assert early["errors"][0]["field"] == "data.criteria_version"
    unknown = await deliver(registry_client, event(product, criteria_version="2099"), 422)
    assert unknown["errors"][0]["field"] == "data.criteria_version"
    # An older set may still be applied after a newer one came into force (dossiers under way), but who
    # issues the certificate is the procedure of the day: 148 let districts certify 3★, and they are gone.
    body = event(product, criteria_version="148", issued_on="2026-06-01", ocop_star=3, level="district")
    refused = await deliver(registry_client, body, 422)
    assert refused["errors"][0]["field"] == "data.level"
    await deliver(registry_client, event(product, criteria_version="148", issued_on="2026-06-01"))
    assert [row["criteria_version"] for row in await certificate_rows(db, product["id"])] == ["148"]


async def test_certificate_numbers_are_unique_per_issuing_authority(
    registry_client: httpx.AsyncClient, producer: Producer, db: asyncpg.Connection
) -> None:
    first, second = (
        await builders.product(registry_client, producer),
        await builders.product(registry_client, producer),
    )
    body = event(first)
    await deliver(registry_client, body)
    taken = await deliver(registry_client, event(second, certificate_number=body["certificate_number"]), 409)
    assert (taken["type"], taken["field"]) == (
        "/problems/certificate-number-taken",
        "data.certificate_number",
    )
    # Nothing of the refused event was written: not the product, not a certificate, not the event id.
    assert (await read(registry_client, producer, second))["certificate_number"] is None
    assert await certificate_rows(db, second["id"]) == []
    # The same number from another authority is another certificate.
    other = event(
        second, certificate_number=body["certificate_number"], issuing_authority="Ủy ban nhân dân tỉnh Khác"
    )
    assert (await deliver(registry_client, other))["certificate_authority"] == "Ủy ban nhân dân tỉnh Khác"
    # Even once the first product has moved on to a new certificate, its old number stays its own.
    await deliver(registry_client, event(first, issued_on="2026-09-01"))
    again = await deliver(registry_client, event(second, certificate_number=body["certificate_number"]), 409)
    assert again["type"] == "/problems/certificate-number-taken"


async def test_a_known_certificate_keeps_its_star_level_and_dates(
    registry_client: httpx.AsyncClient, producer: Producer
) -> None:
    product = await builders.product(registry_client, producer)
    body = event(product, ocop_star=3)
    issued = await deliver(registry_client, body)
    for change in (
        {"ocop_star": 4},
        {"issued_on": "2026-02-02"},
        {"level": "district", "issued_on": "2023-06-01"},
    ):
        differs = await deliver(
            registry_client, body | {"event_id": str(uuid.uuid4()), "status": "expiring"} | change, 409
        )
        assert (differs["type"], differs["field"]) == (
            "/problems/certificate-facts-differ",
            "data.certificate_number",
        )
    assert await read(registry_client, producer, product) == issued


@pytest.mark.commits  # racing transactions
async def test_concurrent_deliveries_of_one_number_to_two_products(
    registry_client: httpx.AsyncClient, producer: Producer
) -> None:
    first, second = (
        await builders.product(registry_client, producer),
        await builders.product(registry_client, producer),
    )
    number = "QN-2026-0001"
    answers = await asyncio.gather(
        *(
            builders.post_event(
                registry_client, "scoring.certificate.issued", data(event(p, certificate_number=number))
            )
            for p in (first, second)
        )
    )
    assert sorted(answer.status_code for answer in answers) == [200, 409]


async def test_authority_decision_and_revocation_ground_are_stored(
    registry_client: httpx.AsyncClient, producer: Producer, db: asyncpg.Connection
) -> None:
    product = await builders.product(registry_client, producer)
    body = event(
        product, ocop_star=5, level="central", issuing_authority=MINISTRY, decision_number="377/QĐ-BNN-VPĐP"
    )
    issued = await deliver(registry_client, body)
    assert (issued["certificate_authority"], issued["certificate_decision_number"]) == (
        MINISTRY,
        "377/QĐ-BNN-VPĐP",
    )
    assert issued["certificate_revocation_ground"] is None
    no_ground = await deliver(
        registry_client, body | {"event_id": str(uuid.uuid4()), "status": "revoked"}, 422
    )
    assert no_ground["errors"][0]["field"] == "data.revocation_ground"
    ground_when_active = event(product, revocation_ground="Vi phạm quy định về ghi nhãn")
    assert (await deliver(registry_client, ground_when_active, 422))["errors"][0][
        "field"
    ] == "data.revocation_ground"
    revoked = await deliver(
        registry_client,
        body | {"event_id": str(uuid.uuid4()), "status": "revoked", "decision_number": "12/QĐ-BNNMT",
                "revocation_ground": "Không duy trì tiêu chí bắt buộc 3 sao"},
    )  # fmt: skip
    assert (revoked["status"], revoked["certificate_status"]) == ("lapsed", "revoked")
    assert revoked["certificate_revocation_ground"] == "Không duy trì tiêu chí bắt buộc 3 sao"
    assert revoked["certificate_decision_number"] == "12/QĐ-BNNMT"
    [row] = await certificate_rows(db, product["id"])
    assert (row["issuing_authority"], row["decision_number"], row["status"]) == (
        MINISTRY,
        "12/QĐ-BNNMT",
        "revoked",
    )
    assert row["revocation_ground"] == "Không duy trì tiêu chí bắt buộc 3 sao"
    history = (
        await registry_client.get(f"/v1/products/{product['id']}/history", headers=producer.headers)
    ).json()
    assert [h["action"] for h in history] == ["registered", "certificate_active", "certificate_revoked"]


@pytest.mark.commits  # the catalogue is read outside any transaction
async def test_an_expiring_certificate_keeps_the_product_in_the_catalogue_until_it_expires(
    registry_client: httpx.AsyncClient, producer: Producer
) -> None:
    product = await builders.product(registry_client, producer)
    # Issued almost 36 months ago: it runs out in ten days.
    issued_on = certificates.add_months(clock.today(), -36) + timedelta(days=10)
    body = event(product, issued_on=issued_on.isoformat())
    await deliver(registry_client, body)
    assert (await registry_client.get(f"/v1/catalogue/{product['id']}")).status_code == 200
    expiring = await deliver(registry_client, body | {"event_id": str(uuid.uuid4()), "status": "expiring"})
    assert (expiring["status"], expiring["certificate_status"]) == ("certified", "expiring")
    # The 30-day notice is not the end: the certificate is in force until its expiry date.
    listed = await registry_client.get(f"/v1/catalogue/{product['id']}")
    assert listed.status_code == 200
    searched = await registry_client.get(
        "/v1/catalogue", params={"commune": producer.unit.commune_code, "sort": "-star"}
    )
    assert [item["id"] for item in searched.json()["items"]] == [product["id"]]
    expired = await deliver(registry_client, body | {"event_id": str(uuid.uuid4()), "status": "expired"})
    assert (expired["status"], expired["certificate_status"]) == ("lapsed", "expired")
    assert (await registry_client.get(f"/v1/catalogue/{product['id']}")).status_code == 404


# Deliveries at least once, maybe out of order


async def test_a_redelivered_event_is_a_no_op(
    registry_client: httpx.AsyncClient, producer: Producer, db: asyncpg.Connection
) -> None:
    product = await builders.product(registry_client, producer)
    body = event(product)
    await deliver(registry_client, body)
    # Another event changes the product in between; the redelivery of the first changes nothing.
    await deliver(registry_client, body | {"event_id": str(uuid.uuid4()), "status": "expiring"})
    again = await post_event(
        registry_client, "scoring.certificate.issued", data(body), event_id=body["event_id"]
    )
    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
    assert (await read(registry_client, producer, product))["certificate_status"] == "expiring"
    history = (
        await registry_client.get(f"/v1/products/{product['id']}/history", headers=producer.headers)
    ).json()
    assert [h["action"] for h in history] == ["registered", "certificate_active", "certificate_expiring"]
    assert len(await certificate_rows(db, product["id"])) == 1
    assert (
        await db.fetchval(
            "SELECT count(*) FROM registry.inbox_event WHERE id = $1", uuid.UUID(body["event_id"])
        )
        == 1
    )


@pytest.mark.commits  # racing transactions
async def test_concurrent_redeliveries_apply_once(
    registry_client: httpx.AsyncClient, producer: Producer
) -> None:
    product = await builders.product(registry_client, producer)
    body = event(product)
    answers = await asyncio.gather(
        *(post_event(registry_client, "scoring.certificate.issued", data(body), event_id=body["event_id"])
          for _ in range(3))
    )  # fmt: skip
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert sorted(answer.json()["outcome"] for answer in answers) == ["applied", "duplicate", "duplicate"]
    history = (
        await registry_client.get(f"/v1/products/{product['id']}/history", headers=producer.headers)
    ).json()
    assert [h["action"] for h in history].count("certificate_active") == 1


async def test_a_refused_event_does_not_use_up_its_id(
    registry_client: httpx.AsyncClient, producer: Producer
) -> None:
    product = await builders.product(registry_client, producer)
    body = event(product)
    await deliver(registry_client, body | {"level": "central"}, 422)
    assert (await deliver(registry_client, body))["certificate_level"] == "province"


async def test_late_and_older_events_do_not_undo_newer_ones(
    registry_client: httpx.AsyncClient, producer: Producer, db: asyncpg.Connection
) -> None:
    product = await builders.product(registry_client, producer)
    current = event(product)
    await deliver(registry_client, current)
    # An older certificate arriving late does not replace the newer one (but is recorded).
    older = event(product, issued_on="2023-01-01")
    assert (await deliver(registry_client, older))["certificate_number"] == current["certificate_number"]
    assert len(await certificate_rows(db, product["id"])) == 2
    revoked = current | {"event_id": str(uuid.uuid4()), "status": "revoked", "revocation_ground": "Thu hồi"}
    await deliver(registry_client, revoked)
    # The certificate's own "active" event, delivered again under a new id after its revocation.
    late = await deliver(registry_client, current | {"event_id": str(uuid.uuid4())})
    assert (late["status"], late["certificate_status"]) == ("lapsed", "revoked")
    # An event about the older certificate does not touch the product's current one.
    await deliver(registry_client, older | {"event_id": str(uuid.uuid4()), "status": "expired"})
    assert (await read(registry_client, producer, product))["certificate_number"] == current[
        "certificate_number"
    ]


async def test_a_new_certificate_replaces_an_expiring_one(
    registry_client: httpx.AsyncClient, producer: Producer, db: asyncpg.Connection
) -> None:
    product = await builders.product(registry_client, producer)
    first = event(product, issued_on="2023-12-01")
    await deliver(registry_client, first)
    await deliver(registry_client, first | {"event_id": str(uuid.uuid4()), "status": "expiring"})
    renewed = await deliver(registry_client, event(product, issued_on="2026-11-20", ocop_star=5, level="central",
                                                   issuing_authority=MINISTRY))  # fmt: skip
    assert (renewed["ocop_star"], renewed["certificate_status"], renewed["status"]) == (
        5,
        "active",
        "certified",
    )
    superseded = await deliver(
        registry_client, first | {"event_id": str(uuid.uuid4()), "status": "superseded"}
    )
    assert superseded["certificate_authority"] == MINISTRY
    assert [row["status"] for row in await certificate_rows(db, product["id"])] == [
        "superseded",
        "active",
    ]
