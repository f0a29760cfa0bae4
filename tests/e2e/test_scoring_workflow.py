"""Scoring end to end: the four real processes, every call through the gateway's port.

A dossier goes through a return, a rescore and a council of several members to a 4★ certificate that
the registry's public catalogue shows; an upgrade goes through the central council to a 5★ that
supersedes it; a revocation takes the product out of the catalogue. Each change is a
``scoring.certificate.*`` event in scoring's outbox, which its relay delivers to the registry over real
HTTP, signed (retrying from 0.2 s up to 2 s here); with the registry stopped the delivery waits, failing,
until the registry is back, and then the catalogue drops the revoked product. Every wait polls against
a deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest

from tests import builders
from tests.builders import ADMIN, MINISTRY_AUTHORITY, PROVINCE_AUTHORITY
from tests.support.processes import RunningProcess, stopped

pytestmark = pytest.mark.e2e

T = TypeVar("T")
# How long the registry may take to show a certificate: retries wait at most 2 s here; the registry
# restarting takes a few seconds more on a loaded machine.
DEADLINE_S = 60.0
POLL_S = 0.25
SCORERS = ("chu-tich", "uy-vien-1", "uy-vien-2", "uy-vien-3")


async def eventually(check: Callable[[], Awaitable[T | None]], what: str) -> T:
    """Poll ``check`` until it gives something other than None, for at most DEADLINE_S seconds."""
    try:
        async with asyncio.timeout(DEADLINE_S):
            while True:
                if (value := await check()) is not None:
                    return value
                await asyncio.sleep(POLL_S)
    except TimeoutError:
        raise AssertionError(f"{what}: not within {DEADLINE_S:.0f} s") from None


def catalogue_shows(
    gateway: httpx.AsyncClient, product_id: str, star: int, number: str
) -> Callable[[], Awaitable[dict[str, Any] | None]]:
    """A check: the public catalogue's record of the product, once it carries this certificate and star."""

    async def check() -> dict[str, Any] | None:
        answer = await gateway.get(f"/v1/catalogue/{product_id}")
        if answer.status_code != 200:
            return None
        record: dict[str, Any] = answer.json()
        return record if (record["ocop_star"], record["ocop_certificate_number"]) == (star, number) else None

    return check


def delivered(
    gateway: httpx.AsyncClient, product_id: str, count: int
) -> Callable[[], Awaitable[list[Any] | None]]:
    """A check: scoring's deliveries of the product's events to the registry, once ``count`` are all delivered."""

    async def check() -> list[Any] | None:
        answer = await gateway.get(
            "/v1/outbox/scoring/deliveries",
            params={"subject": f"product/{product_id}", "destination": "registry"}, headers=ADMIN,
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        items: list[Any] = answer.json()["items"]
        done = len(items) == count and all(item["status"] == "delivered" for item in items)
        return items if done else None

    return check


async def issue(
    gateway: httpx.AsyncClient, of: builders.Dossier, headers: dict[str, str], authority: str
) -> dict[str, Any]:
    """The certificate of the dossier's decided result."""
    body = {"application_id": of.id, "decision_number": "45/QĐ-UBND", "issuing_authority": authority}
    answer = await gateway.post("/v1/certificates", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    certificate: dict[str, Any] = answer.json()
    return certificate


async def ok(answer: Awaitable[httpx.Response], status: int = 200) -> Any:
    """The body of an answer that must have ``status``."""
    response = await answer
    assert response.status_code == status, response.text
    return response.json()


async def test_a_product_is_scored_certified_upgraded_to_five_stars_and_revoked(
    suite: dict[str, RunningProcess], db: asyncpg.Connection
) -> None:
    async with httpx.AsyncClient(base_url=suite["gateway"].url, timeout=30) as gateway:
        owner = await builders.producer(gateway, db)
        province = owner.unit.province_code
        product = await builders.product(gateway, owner)
        product_id = str(product["id"])
        made = await builders.dossier(gateway, gateway, db, owner=owner, product_=product)

        # A return at the commune's pre-check, and the producer's resubmission.
        await builders.submitted(gateway, made)
        reason = "Bổ sung phiếu kết quả kiểm nghiệm an toàn thực phẩm"
        returned = await builders.step(
            gateway, made, "precheck", owner.commune_officer, {"decision": "return", "reason": reason}
        )
        assert (returned["status"], returned["return_reason"]) == ("returned", reason)
        resubmitted = await builders.step(gateway, made, "submit", owner.headers)
        assert (resubmitted["status"], resubmitted["return_reason"]) == ("submitted", None)
        await builders.step(gateway, made, "precheck", owner.commune_officer, {"decision": "forward"})
        await builders.step(gateway, made, "completeness", owner.province_officer, {"decision": "eligible"})

        # Four members score; totals 25 points apart send the dossier to a rescore, the second pass decides.
        council = await builders.council(gateway, province_code=province, scorers=SCORERS)
        staged = await builders.in_scoring(gateway, made, council_=council)
        first_pass = await builders.score_all(gateway, staged, (100, 90, 80, 75))
        assert (first_pass["status"], first_pass["scoring_pass"]) == ("rescore", 1)
        assert await ok(gateway.get(f"{made.url}/results", headers=ADMIN)) == []
        await builders.step(gateway, made, "start-scoring", owner.province_officer)
        decided = await builders.score_all(gateway, staged, (76, 77, 78, 79))
        assert decided["status"] == "recognised"
        [result] = await ok(gateway.get(f"{made.url}/results", headers=owner.headers))
        assert (result["pass_number"], result["star"], result["level"], result["members_scored"]) == (
            2, 4, "province", 4,
        )  # fmt: skip
        cards = await ok(gateway.get(f"{made.url}/scorecards", headers=council.chair))
        assert sorted((card["pass_number"], card["member_sub"]) for card in cards) == sorted(
            (number, sub) for number in (1, 2) for sub in SCORERS
        )
        history = await ok(gateway.get(f"/v1/audit/{made.id}", headers=ADMIN))
        actions = [entry["action"] for entry in history["items"]]
        for action in ("application.returned", "application.rescore", "application.decided"):
            assert actions.count(action) == 1, actions
        assert actions.count("application.submitted") == 2

        # The province's 4★ certificate: within moments the public catalogue shows the product.
        four = await issue(gateway, made, owner.province_officer, PROVINCE_AUTHORITY)
        shown = await eventually(
            catalogue_shows(gateway, product_id, 4, four["number"]), "the catalogue shows the 4★ product"
        )
        assert (shown["is_national"], shown["province"]["code"]) == (False, province)
        [first] = await eventually(delivered(gateway, product_id, 1), "the 4★ certificate's event delivered")
        assert first["type"] == "scoring.certificate.issued"
        listed = await ok(gateway.get("/v1/catalogue", params={"province": province}))
        assert [(item["id"], item["ocop_star"]) for item in listed["items"]] == [(product_id, 4)]
        stats = await ok(
            gateway.get("/v1/certificates/stats", params={"by": "star", "province_code": province})
        )
        assert stats["items"] == [{"key": "4", "label": None, "count": 1}]

        # An upgrade: ≥ 90 at the province is a potential 5★, which only the central council decides.
        upgrade = await builders.dossier(
            gateway, gateway, db, owner=owner, product_=product, application_type="upgrade"
        )
        await builders.eligible(gateway, upgrade)
        provincial = await builders.in_scoring(gateway, upgrade, council_=council)
        assert (await builders.score_all(gateway, provincial))["status"] == "potential_5_star"
        await builders.step(gateway, upgrade, "propose-central", owner.province_officer)
        central = await builders.in_scoring(
            gateway, upgrade, council_=await builders.council(gateway, province_code=None), central=True
        )
        assert (await builders.score_all(gateway, central, (95, 96, 97)))["status"] == "recognised"
        results = await ok(gateway.get(f"{upgrade.url}/results", headers=ADMIN))
        assert [(r["level"], r["star"], r["outcome"]) for r in results] == [
            ("province", 4, "potential_5_star"), ("central", 5, "recognised"),
        ]  # fmt: skip
        refused = await gateway.post(
            "/v1/certificates",
            json={
                "application_id": upgrade.id,
                "decision_number": "1/QĐ",
                "issuing_authority": PROVINCE_AUTHORITY,
            },
            headers=owner.province_officer,
        )
        assert refused.status_code == 403, refused.text
        five = await issue(gateway, upgrade, ADMIN, MINISTRY_AUTHORITY)
        shown = await eventually(
            catalogue_shows(gateway, product_id, 5, five["number"]), "the catalogue shows the 5★ product"
        )
        assert shown["is_national"] is True
        events = await eventually(delivered(gateway, product_id, 3), "the supersession and the 5★ delivered")
        assert [item["type"] for item in events] == [
            "scoring.certificate.issued", "scoring.certificate.superseded", "scoring.certificate.issued",
        ]  # newest first  # fmt: skip
        superseded = await ok(gateway.get(f"/v1/certificates/{four['id']}", headers=ADMIN))
        assert (superseded["status"], superseded["superseded_by"]) == ("superseded", five["id"])

        # A revocation takes the product out of the catalogue; the public lookup says why it is not valid.
        revoke = {"ground": "quality_violation", "reason": "Mẫu lưu không đạt chỉ tiêu vi sinh"}
        refused = await gateway.post(
            f"/v1/certificates/{five['id']}/revoke", json=revoke, headers=owner.province_officer
        )
        assert refused.status_code == 403, refused.text
        revoked = await ok(gateway.post(f"/v1/certificates/{five['id']}/revoke", json=revoke, headers=ADMIN))
        assert revoked["status"] == "revoked"

        async def gone() -> bool | None:
            return True if (await gateway.get(f"/v1/catalogue/{product_id}")).status_code == 404 else None

        await eventually(gone, "the revoked product leaves the catalogue")
        record = await ok(gateway.get(f"/v1/products/{product_id}", headers=owner.headers))
        assert (record["status"], record["certificate_status"], record["ocop_star"]) == (
            "lapsed",
            "revoked",
            5,
        )
        lookup = await ok(gateway.get("/v1/certificates/lookup", params={"number": five["number"]}))
        assert (lookup["status"], lookup["valid"], lookup["star"]) == ("revoked", False, 5)
        listed = await ok(gateway.get("/v1/catalogue", params={"province": province}))
        assert listed["items"] == []
        stats = await ok(
            gateway.get("/v1/certificates/stats", params={"by": "star", "province_code": province})
        )
        assert stats["total"] == 0


async def test_a_revocation_made_while_the_registry_is_down_reaches_it_once_it_is_back(
    suite: dict[str, RunningProcess], db: asyncpg.Connection
) -> None:
    async with httpx.AsyncClient(base_url=suite["gateway"].url, timeout=30) as gateway:
        made = await builders.dossier(gateway, gateway, db)
        await builders.eligible(gateway, made)
        staged = await builders.in_scoring(gateway, made)
        assert (await builders.score_all(gateway, staged, (76, 77, 78)))["status"] == "recognised"
        product_id = str(made.product["id"])
        certificate = await issue(gateway, made, made.owner.province_officer, PROVINCE_AUTHORITY)
        await eventually(
            catalogue_shows(gateway, product_id, 4, certificate["number"]), "the catalogue shows the product"
        )

        with stopped(suite["registry"]):
            down = await gateway.get(f"/v1/catalogue/{product_id}")
            assert down.status_code == 502, down.text
            revoke = {"ground": "quality_violation", "reason": "Mẫu lưu không đạt chỉ tiêu vi sinh"}
            revoked = await ok(
                gateway.post(f"/v1/certificates/{certificate['id']}/revoke", json=revoke, headers=ADMIN)
            )
            assert revoked["status"] == "revoked"  # scoring's own write never waits for the registry

            async def failing() -> dict[str, Any] | None:
                answer = await ok(gateway.get(
                    "/v1/outbox/scoring/deliveries",
                    params={"subject": f"product/{product_id}", "status": "pending"}, headers=ADMIN,
                ))  # fmt: skip
                failed = [item for item in answer["items"] if item["attempts"] >= 2 and item["last_error"]]
                return failed[0] if failed else None

            pending = await eventually(failing, "the revocation's delivery fails while the registry is down")
            assert pending["type"] == "scoring.certificate.revoked"

        async def gone() -> bool | None:
            return True if (await gateway.get(f"/v1/catalogue/{product_id}")).status_code == 404 else None

        await eventually(gone, "the revoked product leaves the catalogue once the registry is back")
        events = await eventually(delivered(gateway, product_id, 2), "both events delivered")
        assert [item["type"] for item in events] == [
            "scoring.certificate.revoked",
            "scoring.certificate.issued",
        ]
        record = await ok(gateway.get(f"/v1/products/{product_id}", headers=ADMIN))
        assert (record["status"], record["certificate_status"]) == ("lapsed", "revoked")
