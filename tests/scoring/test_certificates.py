"""Certificates: issue rules, numbers, validity, supersession, the scheduled lifecycle, revocation,
reads by role, the public lookup, and the events that tell the registry."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.certificates import service
from services.scoring.certificates.errors import (
    CertificateStateConflict,
    LevelMayNotCertify,
    ResultNotCertifiable,
)
from services.scoring.certificates.service import IssueFacts
from shared import clock
from shared.security.principal import Principal, Role
from tests import builders
from tests.conftest import auth

ADMIN = Principal(sub="admin", role=Role.admin)
AUTHORITY = "Ủy ban nhân dân tỉnh Thử"
MINISTRY = "Bộ Nông nghiệp và Môi trường"


def facts(product_id: uuid.UUID | None = None, **overrides: Any) -> IssueFacts:
    """What a decided 4★ provincial result under 148+1489 carries, for a product of province 91."""
    values: dict[str, Any] = {
        "product_id": product_id or uuid.uuid4(), "entity_id": uuid.uuid4(), "province_code": "91",
        "commune_code": "91001", "product_set": 8, "product_name": "Chả mực Hạ Long",
        "entity_name": "Hợp tác xã Thử", "star": 4, "level": "province", "criteria_version": "148+1489",
    }  # fmt: skip
    return IssueFacts(**(values | overrides))


async def issue(session: AsyncSession, the_facts: IssueFacts, issued_on: date, **kwargs: Any) -> Any:
    authority = MINISTRY if the_facts.level == "central" else AUTHORITY
    return await service.record_issue(
        session, actor=ADMIN, facts=the_facts, decision_number="12/QĐ-UBND", issuing_authority=authority,
        issued_on=issued_on, **kwargs,
    )  # fmt: skip


async def test_numbers_are_per_authority_and_year_and_validity_is_36_months(session: AsyncSession) -> None:
    """Sequence numbers restart per series (province, central) and year; 29 Feb plus 36 months is 28 Feb."""
    first = await issue(session, facts(), date(2024, 2, 29))
    second = await issue(session, facts(), date(2024, 5, 1))
    next_year = await issue(session, facts(), date(2025, 1, 2))
    central = await issue(session, facts(star=5, level="central"), date(2024, 6, 1))
    assert (first.number, second.number) == ("OCOP-91-2024-0001", "OCOP-91-2024-0002")
    assert next_year.number == "OCOP-91-2025-0001"
    assert central.number == "OCOP-TW-2024-0001"
    assert first.expires_on == date(2027, 2, 28)
    assert second.expires_on == date(2027, 5, 1)


async def test_two_authorities_of_one_series_never_share_a_number(session: AsyncSession) -> None:
    """A district and its province count one series, so the public lookup by number finds one certificate."""
    district = await issue(
        session, facts(star=3, level="district", criteria_version="148"), date(2024, 3, 1),
        status_on=date(2024, 3, 1),
    )  # fmt: skip
    province = await issue(
        session, facts(criteria_version="148"), date(2024, 4, 1), status_on=date(2024, 4, 1)
    )
    other = await service.record_issue(
        session, actor=ADMIN, facts=facts(criteria_version="148"), decision_number="7/QĐ-UBND",
        issuing_authority="Ủy ban nhân dân huyện Thử", issued_on=date(2024, 5, 1), status_on=date(2024, 5, 1),
    )  # fmt: skip
    assert [district.number, province.number, other.number] == [
        "OCOP-91-2024-0001", "OCOP-91-2024-0002", "OCOP-91-2024-0003",
    ]  # fmt: skip
    assert (await service.lookup(session, number=other.number)).id == other.id


async def test_a_new_certificate_supersedes_the_products_current_one(session: AsyncSession) -> None:
    """An upgrade to 5★ supersedes the 4★ certificate, which points to its successor."""
    product_id = uuid.uuid4()
    today = clock.today()
    four = await issue(session, facts(product_id), today - timedelta(days=100))
    five = await issue(session, facts(product_id, star=5, level="central"), today)
    assert (four.status, four.superseded_by, four.version) == ("superseded", five.id, 2)
    assert five.status == "active"


async def test_a_certificate_never_supersedes_a_later_one(session: AsyncSession) -> None:
    """Issuing with an older date than the product's current certificate is a conflict."""
    product_id = uuid.uuid4()
    await issue(session, facts(product_id), clock.today())
    with pytest.raises(service.CertificateStateConflict):
        await issue(session, facts(product_id), clock.today() - timedelta(days=10))


@pytest.mark.parametrize(
    ("star", "level", "version", "error"),
    [
        (5, "province", "148+1489", LevelMayNotCertify),
        (3, "district", "148+1489", LevelMayNotCertify),
        (4, "central", "26/2026", LevelMayNotCertify),
        (2, "province", "148+1489", ResultNotCertifiable),
        (1, "province", "1048", ResultNotCertifiable),
    ],
)
async def test_only_the_competent_level_certifies_3_to_5_stars(
    session: AsyncSession, star: int, level: str, version: str, error: type[Exception]
) -> None:
    """5★ is central only; districts are gone since 1489; 1–2★ get no certificate."""
    with pytest.raises(error):
        await issue(session, facts(star=star, level=level, criteria_version=version), clock.today())


async def test_districts_certified_3_stars_under_148(session: AsyncSession) -> None:
    """History: under 148 a district committee decided 3★."""
    certificate = await issue(
        session,
        facts(star=3, level="district", criteria_version="148"),
        date(2024, 3, 1),
        status_on=date(2024, 3, 1),
    )
    assert (certificate.level, certificate.status) == ("district", "active")


async def test_the_lifecycle_moves_on_its_days_and_only_once(session: AsyncSession) -> None:
    """Active until 30 days before expiry, expiring until the expiry day, then expired; reruns change nothing."""
    issued_on = date(2024, 1, 15)
    certificate = await issue(session, facts(), issued_on, status_on=issued_on)
    expires_on = certificate.expires_on
    assert await service.advance_statuses(session, today=expires_on - timedelta(days=31)) == 0
    assert certificate.status == "active"
    assert await service.advance_statuses(session, today=expires_on - timedelta(days=30)) == 1
    await session.refresh(certificate)
    assert (certificate.status, certificate.version) == ("expiring", 2)
    assert await service.advance_statuses(session, today=expires_on - timedelta(days=30)) == 0
    assert await service.advance_statuses(session, today=expires_on) == 1
    await session.refresh(certificate)
    assert (certificate.status, certificate.version) == ("expired", 3)
    assert await service.advance_statuses(session, today=expires_on + timedelta(days=5)) == 0


async def _product_with_certificate(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection, session: AsyncSession
) -> tuple[builders.Producer, dict[str, Any], Any]:
    owner = await builders.producer(registry_client, db)
    product = await builders.product(registry_client, owner, headers=auth("admin"))
    the_facts = facts(
        uuid.UUID(product["id"]), entity_id=uuid.UUID(owner.entity_id), province_code=owner.unit.province_code,
        commune_code=owner.unit.commune_code, product_name=product["name"],
    )  # fmt: skip
    certificate = await issue(session, the_facts, clock.today() - timedelta(days=10))
    await session.flush()
    return owner, product, certificate


async def test_each_change_is_an_event_the_registry_applies(
    scoring_client: httpx.AsyncClient, registry_client: httpx.AsyncClient, db: asyncpg.Connection,
    session: AsyncSession,
) -> None:  # fmt: skip
    """Issued, then revoked: each state is an event in scoring's outbox, and the registry's product shows it."""
    owner, product, certificate = await _product_with_certificate(registry_client, db, session)
    [issued] = await builders.relay_outbox(session, "scoring", registry_client)
    assert (issued.type, issued.subject, issued.source) == (
        "scoring.certificate.issued", f"product/{product['id']}", "scoring",
    )  # fmt: skip
    assert issued.data["certificate_number"] == certificate.number
    assert (issued.data["version"], issued.data["status"], issued.data["ocop_star"]) == (1, "active", 4)
    shown = (await registry_client.get(f"/v1/products/{product['id']}", headers=owner.headers)).json()
    assert (shown["ocop_star"], shown["certificate_number"], shown["status"]) == (
        4,
        certificate.number,
        "certified",
    )
    await service.revoke_certificate(
        session, principal=ADMIN, certificate_id=certificate.id, ground="quality_violation",
        reason="Vi phạm ghi nhãn", decision_number=None,
    )  # fmt: skip
    [revoked] = await builders.relay_outbox(session, "scoring", registry_client)
    assert (revoked.type, revoked.data["version"]) == ("scoring.certificate.revoked", 2)
    assert revoked.data["revocation_ground"] == "quality_violation: Vi phạm ghi nhãn"
    shown = (await registry_client.get(f"/v1/products/{product['id']}", headers=owner.headers)).json()
    assert shown["certificate_status"] == "revoked"
    assert await builders.relay_outbox(session, "scoring", registry_client) == []


async def test_supersession_and_the_lifecycle_emit_their_events_in_order(session: AsyncSession) -> None:
    product_id = uuid.uuid4()
    first = await issue(session, facts(product_id), date(2024, 1, 10), status_on=date(2024, 1, 10))
    second = await issue(session, facts(product_id, star=5, level="central"), date(2025, 3, 1),
                         status_on=date(2025, 3, 1))  # fmt: skip
    await service.advance_statuses(session, today=second.expires_on - timedelta(days=3))
    rows = await session.execute(
        text("SELECT type, subject, data FROM scoring.outbox_event WHERE subject = :subject ORDER BY seq"),
        {"subject": f"product/{product_id}"},
    )
    assert [(row.type, row.data["certificate_id"], row.data["version"]) for row in rows] == [
        ("scoring.certificate.issued", str(first.id), 1),
        ("scoring.certificate.superseded", str(first.id), 2),
        ("scoring.certificate.issued", str(second.id), 1),
        ("scoring.certificate.expiring", str(second.id), 2),
    ]


async def test_a_refused_change_emits_nothing(session: AsyncSession) -> None:
    """The event is written with the change or not at all."""
    product_id = uuid.uuid4()
    await issue(session, facts(product_id), date(2025, 6, 1))
    before = await session.scalar(text("SELECT count(*) FROM scoring.outbox_event"))
    with pytest.raises(CertificateStateConflict):
        async with session.begin_nested():
            await issue(session, facts(product_id), date(2025, 1, 1))  # older than the product's current one
    assert await session.scalar(text("SELECT count(*) FROM scoring.outbox_event")) == before


async def test_reads_follow_the_roles(
    scoring_client: httpx.AsyncClient, registry_client: httpx.AsyncClient, db: asyncpg.Connection,
    session: AsyncSession,
) -> None:  # fmt: skip
    """The producer, its officers, admins and the national client see it; others get nothing or 404."""
    owner, _, certificate = await _product_with_certificate(registry_client, db, session)
    path = f"/v1/certificates/{certificate.id}"
    readers = [
        owner.headers,
        owner.commune_officer,
        owner.province_officer,
        auth("admin"),
        auth("national", "vn"),
    ]
    for headers in readers:
        assert (await scoring_client.get(path, headers=headers)).status_code == 200
        listed = (await scoring_client.get("/v1/certificates", headers=headers)).json()["items"]
        assert str(certificate.id) in {item["id"] for item in listed}
    strangers = [
        auth("producer", str(uuid.uuid4())),
        auth("province_officer", "01"),
        auth("commune_officer", "01001"),
        auth("council_member", str(uuid.uuid4())),
        auth("partner", "p"),
        auth("province_officer", "2x"),
    ]
    for headers in strangers:
        answer = await scoring_client.get(path, headers=headers)
        assert answer.status_code == 404, headers
        assert answer.headers["content-type"] == "application/problem+json"
        assert (await scoring_client.get("/v1/certificates", headers=headers)).json()["items"] == []
    assert (await scoring_client.get(path)).status_code == 401
    assert (await scoring_client.get("/v1/certificates")).status_code == 401


async def test_anyone_checks_a_certificate_by_its_number(
    scoring_client: httpx.AsyncClient, registry_client: httpx.AsyncClient, db: asyncpg.Connection,
    session: AsyncSession,
) -> None:  # fmt: skip
    """The public lookup needs no token and shows whether the certificate is in force."""
    _, product, certificate = await _product_with_certificate(registry_client, db, session)
    found = await scoring_client.get("/v1/certificates/lookup", params={"number": certificate.number})
    assert found.status_code == 200
    assert found.json() | {"valid": True, "star": 4, "product_name": product["name"]} == found.json()
    missing = await scoring_client.get("/v1/certificates/lookup", params={"number": "OCOP-00-1999-9999"})
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_revocation_is_for_the_competent_authority(
    scoring_client: httpx.AsyncClient, registry_client: httpx.AsyncClient, db: asyncpg.Connection,
    session: AsyncSession,
) -> None:  # fmt: skip
    """Province officers revoke their province's; commune officers and producers may not; strangers see 404."""
    owner, _, certificate = await _product_with_certificate(registry_client, db, session)
    path = f"/v1/certificates/{certificate.id}/revoke"
    body = {"ground": "quality_violation", "reason": "Mẫu kiểm nghiệm không đạt"}
    for headers, expected in [
        ({}, 401), (owner.headers, 403), (owner.commune_officer, 403), (auth("province_officer", "01"), 404),
        (auth("national", "vn"), 403), (auth("council_member", str(uuid.uuid4())), 404),
    ]:  # fmt: skip
        assert (await scoring_client.post(path, json=body, headers=headers)).status_code == expected, headers
    bad = await scoring_client.post(
        path, json={"ground": "dislike", "reason": "x"}, headers=owner.province_officer
    )
    assert bad.status_code == 422
    assert "ground" in bad.text
    revoked = await scoring_client.post(path, json=body, headers=owner.province_officer)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"
    assert revoked.json()["version"] == 2
    again = await scoring_client.post(path, json=body, headers=owner.province_officer)
    assert again.status_code == 409
    assert "revoked" in again.json()["detail"]


async def _recognised(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection, target: int
) -> builders.Scoring:
    made = await builders.dossier(registry_client, scoring_client, db)
    await builders.eligible(scoring_client, made)
    staged = await builders.in_scoring(scoring_client, made)
    await builders.score_all(scoring_client, staged, tuple(target for _ in staged.council.scorers))
    return staged


async def test_a_recognised_result_is_certified_once_by_its_province(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """The province's officer issues the 4★ certificate; a second decision on the same result is a conflict."""
    staged = await _recognised(registry_client, scoring_client, db, 76)
    owner = staged.dossier.owner
    body = {
        "application_id": staged.dossier.id,
        "decision_number": "88/QĐ-UBND",
        "issuing_authority": AUTHORITY,
    }
    for headers, expected in [
        ({}, 401), (owner.headers, 403), (owner.commune_officer, 403), (auth("province_officer", "01"), 404),
        (auth("council_member", staged.council.id, sub=staged.council.scorers[0]), 403), (auth("partner", "p"), 404),
    ]:  # fmt: skip
        answer = await scoring_client.post("/v1/certificates", json=body, headers=headers)
        assert answer.status_code == expected, (headers, answer.text)
    issued = await scoring_client.post("/v1/certificates", json=body, headers=owner.province_officer)
    assert issued.status_code == 201, issued.text
    certificate = issued.json()
    assert (certificate["star"], certificate["level"], certificate["status"]) == (4, "province", "active")
    assert certificate["product_id"] == staged.dossier.product["id"]
    assert certificate["product_name"] == staged.dossier.product["name"]
    assert certificate["number"].startswith(f"OCOP-{owner.unit.province_code}-")
    assert certificate["expires_on"] == clock.add_months(clock.today(), 36).isoformat()
    assert issued.headers["location"] == f"/v1/certificates/{certificate['id']}"
    again = await scoring_client.post("/v1/certificates", json=body, headers=owner.province_officer)
    assert again.status_code == 409
    history = (await scoring_client.get(f"/v1/audit/{certificate['id']}", headers=auth("admin"))).json()
    assert [entry["action"] for entry in history["items"]] == ["certificate.issued"]


async def test_a_dossier_without_a_decided_result_gets_no_certificate(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Still scoring: 404 naming the missing result; nothing written."""
    made = await builders.dossier(registry_client, scoring_client, db)
    body = {"application_id": made.id, "decision_number": "1/QĐ", "issuing_authority": AUTHORITY}
    answer = await scoring_client.post("/v1/certificates", json=body, headers=made.owner.province_officer)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    listed = await scoring_client.get(
        "/v1/certificates", headers=auth("admin"), params={"product_id": made.product["id"]}
    )
    assert listed.json()["items"] == []


async def test_a_two_star_result_gets_no_certificate(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Not recognised (below 50): the decision is refused as not certifiable."""
    staged = await _recognised(registry_client, scoring_client, db, 40)
    body = {"application_id": staged.dossier.id, "decision_number": "2/QĐ", "issuing_authority": AUTHORITY}
    answer = await scoring_client.post(
        "/v1/certificates", json=body, headers=staged.dossier.owner.province_officer
    )
    assert answer.status_code == 409
    assert "2★" in answer.json()["detail"]
