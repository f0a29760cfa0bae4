"""Stamps keeps its own snapshot of products, producers and certificates from the registry's and scoring's events,
and says from it alone whether a product is certified today."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.stamps.snapshot.schemas import Certification, CurrentCertificate
from services.stamps.snapshot.service import certification_of, verdict
from shared import clock
from tests import builders
from tests.support.isolation import Scope


@pytest.fixture
async def session(scope: Scope, stamps_client: httpx.AsyncClient) -> AsyncIterator[AsyncSession]:
    """A stamps session in the test's rolled-back transaction (the one the in-process app uses)."""
    assert scope.stamps is not None
    async with scope.stamps.sessionmaker() as opened:
        yield opened


def product_data(product_id: uuid.UUID, version: int, **changes: Any) -> dict[str, Any]:
    """A ``registry.product.updated`` data, as the registry sends it."""
    return {
        "id": str(product_id), "version": version, "product_code": "91-91001-0001-2026", "external_id": None,
        "name": "Chả mực Hạ Long", "name_en": "Ha Long squid cake", "entity_id": str(uuid.uuid4()),
        "entity_legal_name": "Hợp tác xã Thử", "entity_tax_code": "0100000001", "product_set": 8,
        "product_group": "food", "sector": "food", "classification": "148", "gtin": "08934567000017",
        "status": "certified", "ocop_star": 4, "certificate_number": None, "certificate_status": None,
        "certificate_level": None, "certificate_issued_on": None, "certificate_expires_on": None,
        "certificate_authority": None, "images": ["https://cdn.example.vn/a.jpg", "https://cdn.example.vn/b.jpg"],
        "commune_code": "91001", "commune_name": "Xã Thử", "province_code": "91", "province_name": "Tỉnh Thử",
        "updated_at": clock.now().isoformat(),
    } | changes  # fmt: skip


def entity_data(entity_id: str, version: int, legal_name: str) -> dict[str, Any]:
    """A ``registry.entity.updated`` data."""
    return {
        "id": entity_id, "version": version, "legal_name": legal_name, "entity_type": "cooperative",
        "tax_code": "0100000001", "representative_name": "Nguyễn Văn A", "commune_code": "91001",
        "commune_name": "Xã Thử", "province_code": "91", "province_name": "Tỉnh Thử",
        "updated_at": clock.now().isoformat(),
    }  # fmt: skip


def certificate_data(
    product_id: uuid.UUID, certificate_id: uuid.UUID, version: int, status: str = "active", **changes: Any
) -> dict[str, Any]:
    """A ``scoring.certificate.*`` data: 4★ from the province, issued a month ago for 36 months."""
    issued = clock.today() - timedelta(days=30)
    return {
        "certificate_id": str(certificate_id), "version": version, "product_id": str(product_id),
        "entity_id": str(uuid.uuid4()), "province_code": "91", "ocop_star": 4,
        "certificate_number": f"QN-{builders.serial():06d}", "issuing_authority": builders.PROVINCE_AUTHORITY,
        "decision_number": "123/QĐ-UBND", "criteria_version": "148", "issued_on": issued.isoformat(),
        "expires_on": (issued + timedelta(days=3 * 365)).isoformat(), "level": "province", "status": status,
        "revocation_ground": builders.REVOCATION_GROUND if status == "revoked" else None, "superseded_by": None,
    } | changes  # fmt: skip


EVENT_OF_STATUS = {"active": "issued", "superseded": "superseded", "expiring": "expiring", "expired": "expired",
                   "revoked": "revoked"}  # fmt: skip


async def send(client: httpx.AsyncClient, data: dict[str, Any], *, event_id: str | None = None) -> str:
    """Deliver a certificate event to stamps as scoring's relay does; its outcome."""
    response = await builders.post_event(
        client, f"scoring.certificate.{EVENT_OF_STATUS[data['status']]}", data,
        subject=f"product/{data['product_id']}", event_id=event_id,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    outcome: str = response.json()["outcome"]
    return outcome


async def held(session: AsyncSession, product_id: uuid.UUID, today: date | None = None) -> Certification:
    """What the snapshot says of a product it has heard of."""
    found = await certification_of(session, product_id, today or clock.today())
    assert found is not None
    return found


async def current(session: AsyncSession, product_id: uuid.UUID) -> tuple[Certification, CurrentCertificate]:
    """What the snapshot says of a product with a certificate, and that certificate."""
    found = await held(session, product_id)
    assert found.certificate is not None
    return found, found.certificate


async def known_product(client: httpx.AsyncClient, **changes: Any) -> uuid.UUID:
    """A product stamps has heard of."""
    product_id = uuid.uuid4()
    response = await builders.post_event(
        client,
        "registry.product.updated",
        product_data(product_id, 5, **changes),
        subject=f"product/{product_id}",
    )
    assert response.json()["outcome"] == "applied", response.text
    return product_id


async def test_a_product_snapshot_is_kept_once_and_an_older_one_never_replaces_a_newer(
    stamps_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    product_id = uuid.uuid4()
    event_id = str(uuid.uuid4())
    data = product_data(product_id, 10, name="Chả mực giã tay")
    subject = f"product/{product_id}"
    first = await builders.post_event(stamps_client, "registry.product.updated", data, event_id=event_id,
                                      subject=subject)  # fmt: skip
    assert first.json()["outcome"] == "applied", first.text
    again = await builders.post_event(stamps_client, "registry.product.updated", data, event_id=event_id,
                                      subject=subject)  # fmt: skip
    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
    older = await builders.post_event(
        stamps_client, "registry.product.updated", product_data(product_id, 7, name="Tên cũ"), subject=subject
    )
    assert older.json()["outcome"] == "applied"  # handled: the snapshot keeps the newer data
    found = await held(session, product_id)
    assert (found.name, found.name_en, found.gtin, found.image) == (
        "Chả mực giã tay",
        "Ha Long squid cake",
        "08934567000017",
        "https://cdn.example.vn/a.jpg",
    )
    assert (found.commune_name, found.province_name, found.entity_name) == (
        "Xã Thử",
        "Tỉnh Thử",
        "Hợp tác xã Thử",
    )
    assert (found.certificate, found.verdict) == (None, "none")
    newer = await builders.post_event(
        stamps_client, "registry.product.updated", product_data(product_id, 11, name="Chả mực Hạ Long", images=[]),
        subject=subject,
    )  # fmt: skip
    assert newer.json()["outcome"] == "applied"
    found = await held(session, product_id)
    assert (found.name, found.image, found.images) == ("Chả mực Hạ Long", None, [])


async def test_the_producers_newest_name_wins_whichever_event_brought_it(
    stamps_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    product_id = uuid.uuid4()
    entity_id = str(uuid.uuid4())
    subject = f"product/{product_id}"
    await builders.post_event(stamps_client, "registry.product.updated",
                              product_data(product_id, 5, entity_id=entity_id), subject=subject)  # fmt: skip
    renamed = await builders.post_event(
        stamps_client, "registry.entity.updated", entity_data(entity_id, 8, "HTX Nông sản Xanh"),
        subject=f"entity/{entity_id}",
    )  # fmt: skip
    assert renamed.json()["outcome"] == "applied", renamed.text
    found = await held(session, product_id)
    assert found.entity_name == "HTX Nông sản Xanh"
    # An older entity snapshot is ignored; a later product snapshot carries the name as it then was.
    await builders.post_event(stamps_client, "registry.entity.updated", entity_data(entity_id, 6, "Tên cũ"),
                              subject=f"entity/{entity_id}")  # fmt: skip
    found = await held(session, product_id)
    assert found.entity_name == "HTX Nông sản Xanh"
    await builders.post_event(
        stamps_client, "registry.product.updated",
        product_data(product_id, 9, entity_id=entity_id, entity_legal_name="HTX Nông sản Xanh Hạ Long"),
        subject=subject,
    )  # fmt: skip
    found = await held(session, product_id)
    assert found.entity_name == "HTX Nông sản Xanh Hạ Long"


async def test_the_verdict_follows_a_certificate_from_issue_to_revocation(
    stamps_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    product_id = await known_product(stamps_client)
    certificate_id = uuid.uuid4()
    issued = certificate_data(product_id, certificate_id, 1)
    event_id = str(uuid.uuid4())
    assert await send(stamps_client, issued, event_id=event_id) == "applied"
    assert await send(stamps_client, issued, event_id=event_id) == "duplicate"
    found, certificate = await current(session, product_id)
    assert (found.verdict, certificate.star, certificate.number) == (
        "certified",
        4,
        issued["certificate_number"],
    )
    assert certificate.expires_on == date.fromisoformat(issued["expires_on"])
    assert await send(stamps_client, issued | {"version": 2, "status": "expiring"}) == "applied"
    found = await held(session, product_id)
    assert found.verdict == "expiring"
    revoked = issued | {"version": 3, "status": "revoked", "revocation_ground": builders.REVOCATION_GROUND}
    assert await send(stamps_client, revoked) == "applied"
    found, certificate = await current(session, product_id)
    assert (found.verdict, certificate.revocation_ground) == ("revoked", builders.REVOCATION_GROUND)
    # A late redelivery of an older state (a replayed dead letter) does not bring the certificate back.
    assert await send(stamps_client, issued | {"version": 2, "status": "expiring"}) == "applied"
    found = await held(session, product_id)
    assert found.verdict == "revoked"


async def test_an_expired_certificate_and_a_lapsed_date(
    stamps_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    product_id = await known_product(stamps_client)
    certificate_id = uuid.uuid4()
    issued = certificate_data(product_id, certificate_id, 1)
    await send(stamps_client, issued)
    after_expiry = date.fromisoformat(issued["expires_on"]) + timedelta(days=1)
    found = await held(session, product_id, after_expiry)
    # Past its date before scoring's daily job said so: expired all the same.
    assert found.verdict == "expired"
    await send(stamps_client, issued | {"version": 2, "status": "expired"})
    found, certificate = await current(session, product_id)
    assert (found.verdict, certificate.id) == ("expired", certificate_id)


async def test_a_superseded_certificate_gives_way_to_its_successor(
    stamps_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    product_id = await known_product(stamps_client)
    old_id, new_id = uuid.uuid4(), uuid.uuid4()
    old = certificate_data(product_id, old_id, 1)
    await send(stamps_client, old)
    await send(stamps_client, old | {"version": 2, "status": "superseded", "superseded_by": str(new_id)})
    found = await held(session, product_id)
    assert found.verdict == "none"  # the successor's issue has not arrived yet
    new = certificate_data(product_id, new_id, 1, ocop_star=5, level="central",
                           issuing_authority=builders.MINISTRY_AUTHORITY, issued_on=clock.today().isoformat())  # fmt: skip
    await send(stamps_client, new)
    found, certificate = await current(session, product_id)
    assert (found.verdict, certificate.id, certificate.star) == ("certified", new_id, 5)
    # The successor revoked: the product is revoked, not certified by the superseded one.
    await send(stamps_client, new | {"version": 2, "status": "revoked",
                                     "revocation_ground": builders.REVOCATION_GROUND})  # fmt: skip
    found, certificate = await current(session, product_id)
    assert (found.verdict, certificate.id) == ("revoked", new_id)


async def test_an_unknown_product_has_no_certification(session: AsyncSession) -> None:
    assert await certification_of(session, uuid.uuid4(), clock.today()) is None


async def test_bad_event_data_is_a_problem_naming_the_field(stamps_client: httpx.AsyncClient) -> None:
    product_id = uuid.uuid4()
    data = certificate_data(product_id, uuid.uuid4(), 1) | {"ocop_star": 9}
    response = await builders.post_event(stamps_client, "scoring.certificate.issued", data,
                                         subject=f"product/{product_id}")  # fmt: skip
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "data.ocop_star" in {error["field"] for error in response.json()["errors"]}
    elsewhere = await builders.post_event(stamps_client, "scoring.certificate.issued",
                                          certificate_data(product_id, uuid.uuid4(), 1),
                                          subject=f"product/{uuid.uuid4()}")  # fmt: skip
    assert elsewhere.status_code == 422
    assert elsewhere.json()["errors"][0]["field"] == "data.product_id"


def test_the_verdict_of_each_certificate_state() -> None:
    today = date(2027, 6, 1)

    def of(status: str, expires_on: date = date(2028, 1, 1)) -> CurrentCertificate:
        return CurrentCertificate(
            id=uuid.uuid4(), number="QN-1", star=4, level="province", status=status, issued_on=date(2025, 1, 1),
            expires_on=expires_on, issuing_authority="UBND", revocation_ground=None,
        )  # fmt: skip

    assert verdict(None, today) == "none"
    assert [verdict(of(s), today) for s in ("active", "expiring", "expired", "revoked", "superseded")] == [
        "certified",
        "expiring",
        "expired",
        "revoked",
        "none",
    ]
    assert verdict(of("active", expires_on=today), today) == "certified"  # valid through its last day
    assert verdict(of("expiring", expires_on=today - timedelta(days=1)), today) == "expired"
