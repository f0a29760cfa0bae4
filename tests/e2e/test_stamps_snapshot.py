"""Stamps' snapshot end to end: the four real processes, every call through the gateway's port.

A product is registered and certified, then its certificate revoked; the registry's and scoring's
relays deliver ``registry.product.updated`` and ``scoring.certificate.*`` to stamps over real HTTP,
signed, and stamps' own snapshot (read as the stamps service reads it) follows. Every wait polls
against a deadline.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.stamps.snapshot.schemas import Certification
from services.stamps.snapshot.service import certification_of
from shared import clock, gs1
from shared.db import asyncpg_dsn, make_engine
from tests import builders
from tests.builders import ADMIN, PROVINCE_AUTHORITY
from tests.e2e.test_scoring_workflow import eventually, issue, ok
from tests.support.database import TestDatabase
from tests.support.processes import RunningProcess, _launch, stop, wait_until_healthy

pytestmark = pytest.mark.e2e


@pytest.fixture
async def stamps_sessions(database: TestDatabase) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions as the stamps service's role, on the database the processes use."""
    engine = make_engine(database.urls["stamps"], application_name="test", pool_size=1)
    try:
        yield async_sessionmaker(bind=engine, expire_on_commit=False)
    finally:
        await engine.dispose()


async def test_an_issued_then_revoked_certificate_reaches_stamps_snapshot(
    suite: dict[str, RunningProcess],
    db: asyncpg.Connection,
    stamps_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def verdict_is(product_id: uuid.UUID, wanted: str) -> Certification | None:
        async with stamps_sessions() as session:
            found = await certification_of(session, product_id, clock.today())
        return found if found is not None and found.verdict == wanted else None

    async with httpx.AsyncClient(base_url=suite["gateway"].url, timeout=30) as gateway:
        owner = await builders.producer(gateway, db)
        product = await builders.product(gateway, owner)
        product_id = uuid.UUID(product["id"])
        # The registration's event reached stamps: it knows the product, with no certificate yet.
        known = await eventually(lambda: verdict_is(product_id, "none"), "stamps knows the product")
        assert (known.name, known.entity_name) == (product["name"], owner.entity["legal_name"])

        made = await builders.dossier(gateway, gateway, db, owner=owner, product_=product)
        await builders.eligible(gateway, made)
        staged = await builders.in_scoring(gateway, made)
        assert (await builders.score_all(gateway, staged, (80, 80, 80)))["status"] == "recognised"
        certificate: dict[str, Any] = await issue(gateway, made, owner.province_officer, PROVINCE_AUTHORITY)
        certified = await eventually(
            lambda: verdict_is(product_id, "certified"), "stamps sees the certificate"
        )
        assert certified.certificate is not None
        assert (str(certified.certificate.id), certified.certificate.number) == (
            certificate["id"], certificate["number"]
        )  # fmt: skip

        revoke = {"ground": "quality_violation", "reason": "Mẫu lưu không đạt chỉ tiêu vi sinh"}
        await ok(gateway.post(f"/v1/certificates/{certificate['id']}/revoke", json=revoke, headers=ADMIN))
        revoked = await eventually(lambda: verdict_is(product_id, "revoked"), "stamps sees the revocation")
        assert revoked.certificate is not None
        assert revoked.certificate.revocation_ground
        deliveries = await ok(
            gateway.get(
                "/v1/outbox/scoring/deliveries",
                params={"subject": f"product/{product_id}", "destination": "stamps"}, headers=ADMIN,
            )
        )  # fmt: skip
        assert {item["status"] for item in deliveries["items"]} == {"delivered"}


async def test_stamps_starting_with_an_empty_snapshot_gets_a_full_copy(
    suite: dict[str, RunningProcess],
    db: asyncpg.Connection,
    database: TestDatabase,
    stamps_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def verdict_is(product_id: uuid.UUID, wanted: str) -> Certification | None:
        async with stamps_sessions() as session:
            found = await certification_of(session, product_id, clock.today())
        return found if found is not None and found.verdict == wanted else None

    async with httpx.AsyncClient(base_url=suite["gateway"].url, timeout=30) as gateway:
        owner = await builders.producer(gateway, db)
        product = await builders.product(gateway, owner)
        product_id = uuid.UUID(product["id"])
        made = await builders.dossier(gateway, gateway, db, owner=owner, product_=product)
        await builders.eligible(gateway, made)
        staged = await builders.in_scoring(gateway, made)
        assert (await builders.score_all(gateway, staged, (80, 80, 80)))["status"] == "recognised"
        certificate = await issue(gateway, made, owner.province_officer, PROVINCE_AUTHORITY)
        await eventually(lambda: verdict_is(product_id, "certified"), "stamps sees the certificate")

        # The stamps service loses its copy (a new deployment, a restored database) and starts again.
        stamps = suite["stamps"]
        stop([stamps])
        copy = await asyncpg.connect(asyncpg_dsn(database.urls["stamps"]))
        try:
            await copy.execute(
                "TRUNCATE stamps.product_snapshot, stamps.entity_snapshot, stamps.certificate_snapshot;"
                "DELETE FROM stamps.outbox_event WHERE type = 'stamps.snapshot.requested'"
            )
        finally:
            await copy.close()
        stamps.process = _launch(stamps.command, stamps.env, stamps.log, "ab")
        wait_until_healthy(stamps)

        # It asked the registry and scoring; their answers, addressed to stamps alone, refill it.
        refilled = await eventually(lambda: verdict_is(product_id, "certified"), "stamps' copy refilled")
        assert (refilled.name, refilled.entity_name) == (product["name"], owner.entity["legal_name"])
        assert refilled.certificate is not None
        assert refilled.certificate.number == certificate["number"]
        answers = await db.fetch(
            """SELECT d.destination, e.type FROM registry.outbox_delivery d
               JOIN registry.outbox_event e ON e.id = d.event_id
               WHERE e.subject = $1 AND d.event_id IN (
                   SELECT event_id FROM registry.outbox_delivery GROUP BY event_id HAVING count(*) = 1)""",
            f"product/{product_id}",
        )
        # The resent snapshot went to stamps only (scoring, the other subscriber, did not get it twice).
        assert ("stamps", "registry.product.updated") in {
            (row["destination"], row["type"]) for row in answers
        }


async def test_revoking_a_certificate_shows_on_its_stamps_verified_through_the_gateway(
    suite: dict[str, RunningProcess], db: asyncpg.Connection, database: TestDatabase
) -> None:
    async with httpx.AsyncClient(base_url=suite["gateway"].url, timeout=30) as gateway:
        owner = await builders.producer(gateway, db)
        product = await builders.product(gateway, owner, gtin=builders.gtin())
        made = await builders.dossier(gateway, gateway, db, owner=owner, product_=product)
        await builders.eligible(gateway, made)
        staged = await builders.in_scoring(gateway, made)
        assert (await builders.score_all(gateway, staged, (80, 80, 80)))["status"] == "recognised"
        certificate = await issue(gateway, made, owner.province_officer, PROVINCE_AUTHORITY)

        async def requested() -> dict[str, Any] | None:
            # Until scoring's event reaches stamps, the product is not certified there (409).
            answer = await gateway.post(
                "/v1/stamp-batches", json={"product_id": product["id"], "quantity": 5}, headers=owner.headers
            )
            return answer.json() if answer.status_code == 201 else None

        batch = await eventually(requested, "stamps takes a batch request for the certified product")
        await ok(gateway.post(f"/v1/stamp-batches/{batch['id']}/approve", headers=owner.province_officer))

        async def generated() -> dict[str, Any] | None:
            found = await ok(gateway.get(f"/v1/stamp-batches/{batch['id']}", headers=owner.headers))
            return found if found["status"] == "generated" else None

        await eventually(generated, "the stamps service's job generates the batch")
        await ok(
            gateway.post("/v1/stamps/issue", json={"batch_id": batch["id"]}, headers=owner.province_officer)
        )
        today = clock.today().isoformat()
        await ok(
            gateway.post(
                "/v1/stamps/activate", json={"batch_id": batch["id"], "production_date": today},
                headers=owner.headers,
            )
        )  # fmt: skip
        listed = await ok(gateway.get("/v1/stamps", params={"batch_id": batch["id"]}, headers=owner.headers))
        serials = [item["serial"] for item in listed["items"]]
        assert len(serials) == 5
        links = [gs1.digital_link(product["gtin"], serial).path() for serial in serials]
        json_only = {"accept": "application/json"}
        for link in links:
            answer = await ok(gateway.get(link, headers=json_only))
            assert (answer["outcome"], answer["certificate"]["number"]) == ("genuine", certificate["number"])
        # A browser is sent to the page of its scan; that page and a consumer's report pass the gateway too.
        browser = {"accept": "text/html"}
        sent = await gateway.get(links[0], headers=browser)
        assert sent.status_code == 307, sent.text
        location = sent.headers["location"]
        assert location.startswith("/s/")
        for _ in range(2):  # a reload is no new scan
            page = await gateway.get(location, headers=browser)
            assert (page.status_code, page.headers["content-type"]) == (200, "text/html; charset=utf-8")
            assert 'data-state="genuine"' in page.text
        report = await gateway.post(
            "/v1/counterfeit-reports",
            data={"token": location.removeprefix("/s/"), "kind": "other", "description": "Thử"},
        )
        assert report.status_code == 201, report.text
        assert (
            await ok(gateway.get(f"/v1/counterfeit-reports/{report.json()['id']}", headers=owner.headers))
        )["serial"] == serials[0]

        revoke = {"ground": "quality_violation", "reason": "Mẫu lưu không đạt chỉ tiêu vi sinh"}
        await ok(gateway.post(f"/v1/certificates/{certificate['id']}/revoke", json=revoke, headers=ADMIN))

        async def revoked() -> dict[str, Any] | None:
            answer = await ok(gateway.get(links[0], headers=json_only))
            return answer if answer["outcome"] == "revoked" else None

        shown = await eventually(revoked, "the revocation shows on the stamp")
        assert (shown["reasons"][0], shown["certificate"]["verdict"]) == ("certificate_revoked", "revoked")
        # Every stamp of the product, at its next scan; each scan logged.
        for link in links[1:]:
            assert (await ok(gateway.get(link, headers=json_only)))["outcome"] == "revoked"
    stamps_db = await asyncpg.connect(asyncpg_dsn(database.urls["stamps"]))
    try:
        logged = await stamps_db.fetchval("SELECT count(*) FROM stamps.scan WHERE serial = ANY($1)", serials)
    finally:
        await stamps_db.close()
    assert logged >= len(links) * 2
