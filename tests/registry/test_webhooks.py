"""/v1/webhooks: who subscribes and sees what, the secret shown once and sealed, URLs and event types checked."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from services.registry.webhooks.sealing import SecretBox
from tests.builders import ADMIN
from tests.conftest import auth

PARTNER = auth("partner", "shopee", sub="shopee-integration")
OTHER_PARTNER = auth("partner", "tiki", sub="tiki-integration")
URL = "https://partner.example.com/ocop/hook"


def body(**overrides: Any) -> dict[str, Any]:
    """A valid subscription."""
    return {"url": URL, "event_types": ["registry.catalogue.*"], "description": "Sàn TMĐT", **overrides}


async def subscribe(
    client: httpx.AsyncClient, headers: dict[str, str] = PARTNER, **overrides: Any
) -> dict[str, Any]:
    """A subscription made by ``headers``; its answer (with the secret)."""
    response = await client.post("/v1/webhooks", json=body(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_a_partner_subscribes_and_sees_the_secret_once(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    response = await registry_client.post("/v1/webhooks", json=body(), headers=PARTNER)
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["Location"] == f"/v1/webhooks/{created['id']}"
    assert created["secret"].startswith("whsec_")
    assert len(created["secret"]) >= 6 + 43
    assert (created["partner_id"], created["url"], created["event_types"]) == (
        "shopee",
        URL,
        ["registry.catalogue.*"],
    )
    read = (await registry_client.get(f"/v1/webhooks/{created['id']}", headers=PARTNER)).json()
    assert "secret" not in read
    assert read["id"] == created["id"]
    listed = (await registry_client.get("/v1/webhooks", headers=PARTNER)).json()["items"]
    assert all("secret" not in item for item in listed)
    # Stored sealed: the database alone does not give the secret away.
    sealed = await db.fetchval("SELECT secret_sealed FROM registry.webhook_subscription WHERE id = $1",
                               uuid.UUID(created["id"]))  # fmt: skip
    assert created["secret"] not in sealed
    assert SecretBox("").open(sealed, subscription_id=uuid.UUID(created["id"])) == created["secret"]


async def test_a_retried_creation_replays_the_subscription_without_its_secret(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    headers = {**PARTNER, "Idempotency-Key": str(uuid.uuid4())}
    first = await registry_client.post("/v1/webhooks", json=body(), headers=headers)
    again = await registry_client.post("/v1/webhooks", json=body(), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["secret"] is None
    assert first.json()["secret"] not in str(await db.fetch("SELECT body FROM registry.idempotency_key"))
    count = await db.fetchval(
        "SELECT count(*) FROM registry.webhook_subscription WHERE partner_id = 'shopee'"
    )
    assert count == 1


async def test_rotating_gives_a_new_secret(registry_client: httpx.AsyncClient) -> None:
    created = await subscribe(registry_client)
    rotated = await registry_client.post(f"/v1/webhooks/{created['id']}/rotate-secret", headers=PARTNER)
    assert rotated.status_code == 200
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != created["secret"]
    assert rotated.json()["secret_rotated_at"] >= created["secret_rotated_at"]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://partner.example.com/hook", "scheme"),
        ("https://user:pw@partner.example.com/hook", "credentials"),
        ("https://localhost/hook", "local name"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://2130706433/hook", "loopback"),
        ("https://[::ffff:10.0.0.1]/hook", "private"),
        ("https://169.254.169.254/latest", "link-local"),
        ("https://partner.example.com:22/hook", "port 22"),
        ("not a url", "spaces"),
        ("partner.example.com/hook", "scheme"),
    ],
)
async def test_bad_urls_are_refused_naming_the_url(
    registry_client: httpx.AsyncClient, url: str, says: str
) -> None:
    response = await registry_client.post("/v1/webhooks", json=body(url=url), headers=PARTNER)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    [error] = response.json()["errors"]
    assert error["field"] == "body.url"
    assert says in error["message"]


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"event_types": ["scoring.certificate.*"]}, "body.event_types"),
        ({"event_types": []}, "body.event_types"),
        ({"event_types": ["registry.catalogue.product_sold"]}, "body.event_types"),
        ({"event_types": ["Registry Catalogue"]}, "body.event_types.0"),
        ({"url": "x" * 2001}, "body.url"),
        ({"secret": "mine"}, "body.secret"),
    ],
)
async def test_bad_bodies_name_the_field(
    registry_client: httpx.AsyncClient, patch: dict[str, Any], field: str
) -> None:
    response = await registry_client.post("/v1/webhooks", json=body(**patch), headers=PARTNER)
    assert response.status_code == 422, response.text
    assert field in [error["field"] for error in response.json()["errors"]]


async def test_specific_types_are_kept_as_given(registry_client: httpx.AsyncClient) -> None:
    types = ["registry.catalogue.product_removed", "registry.catalogue.product_added"]
    assert (await subscribe(registry_client, event_types=types))["event_types"] == types


async def test_a_partner_lists_its_own_and_an_admin_all(registry_client: httpx.AsyncClient) -> None:
    mine = await subscribe(registry_client)
    theirs = await subscribe(registry_client, OTHER_PARTNER)
    platform = await subscribe(registry_client, ADMIN)
    assert platform["partner_id"] is None

    async def ids(headers: dict[str, str]) -> set[str]:
        response = await registry_client.get("/v1/webhooks", params={"limit": 1}, headers=headers)
        found, page = set(), response.json()
        while True:
            found |= {item["id"] for item in page["items"]}
            if not page["next_cursor"]:
                return found
            page = (await registry_client.get("/v1/webhooks", params={"limit": 1, "cursor": page["next_cursor"]},
                                              headers=headers)).json()  # fmt: skip

    assert await ids(PARTNER) == {mine["id"]}
    assert await ids(OTHER_PARTNER) == {theirs["id"]}
    assert {mine["id"], theirs["id"], platform["id"]} <= await ids(ADMIN)


ROUTES = [
    ("get", "/v1/webhooks/{id}", 200),
    ("get", "/v1/webhooks/{id}/deliveries", 200),
    ("post", "/v1/webhooks/{id}/rotate-secret", 200),
    ("delete", "/v1/webhooks/{id}", 204),
]
CALLERS = {
    "anonymous": ({}, 401),
    "producer": (auth("producer", str(uuid.uuid4())), 403),
    "commune officer": (auth("commune_officer", "00001"), 403),
    "province officer": (auth("province_officer", "01"), 403),
    "council member": (auth("council_member", str(uuid.uuid4())), 403),
    "national": (auth("national", "vn"), 403),
    "service": (auth("service", "scoring"), 403),
    "partner without a scope": (auth("partner"), 403),
    "another partner": (OTHER_PARTNER, 404),
    "the partner itself": (PARTNER, None),
    "admin": (ADMIN, None),
}


@pytest.mark.parametrize(("method", "path", "ok"), ROUTES)
@pytest.mark.parametrize("caller", list(CALLERS))
async def test_every_route_for_every_caller(
    registry_client: httpx.AsyncClient, method: str, path: str, ok: int, caller: str
) -> None:
    created = await subscribe(registry_client)
    headers, expected = CALLERS[caller]
    response = await registry_client.request(method, path.format(id=created["id"]), headers=headers)
    assert response.status_code == (expected or ok), response.text
    if expected is not None:
        assert response.headers["content-type"].startswith("application/problem+json")
        # Nothing changed for the owner.
        assert (
            await registry_client.get(f"/v1/webhooks/{created['id']}", headers=PARTNER)
        ).status_code == 200


@pytest.mark.parametrize("caller", list(CALLERS))
async def test_creating_and_listing_for_every_caller(registry_client: httpx.AsyncClient, caller: str) -> None:
    headers, expected = CALLERS[caller]
    created = await registry_client.post("/v1/webhooks", json=body(), headers=headers)
    listed = await registry_client.get("/v1/webhooks", headers=headers)
    if expected in (401, 403):
        assert (created.status_code, listed.status_code) == (expected, expected)
    else:
        assert (created.status_code, listed.status_code) == (201, 200)


async def test_an_unknown_subscription_is_a_404(registry_client: httpx.AsyncClient) -> None:
    response = await registry_client.get(f"/v1/webhooks/{uuid.uuid4()}", headers=ADMIN)
    assert response.status_code == 404
    assert response.json()["type"].endswith("webhook-not-found")


async def test_deleting_drops_the_subscription_and_its_deliveries(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    created = await subscribe(registry_client)
    event_id = uuid.uuid4()
    await db.execute(
        """INSERT INTO registry.outbox_event (id, type, source, subject, occurred_at, data, routed_at)
           VALUES ($1, 'registry.catalogue.product_added', 'registry', 'product/x', now(), '{}', now())""",
        event_id,
    )
    await db.execute(
        """INSERT INTO registry.outbox_delivery (event_id, destination, seq, subject)
           SELECT id, $2, seq, subject FROM registry.outbox_event WHERE id = $1""",
        event_id, f"webhook:{created['id']}",
    )  # fmt: skip
    log = (await registry_client.get(f"/v1/webhooks/{created['id']}/deliveries", headers=PARTNER)).json()
    assert [(item["event_id"], item["status"], item["attempts"]) for item in log["items"]] == [
        (str(event_id), "pending", 0)
    ]
    assert (await registry_client.delete(f"/v1/webhooks/{created['id']}", headers=PARTNER)).status_code == 204
    assert (await registry_client.get(f"/v1/webhooks/{created['id']}", headers=PARTNER)).status_code == 404
    assert await db.fetchval("SELECT count(*) FROM registry.outbox_delivery WHERE destination = $1",
                             f"webhook:{created['id']}") == 0  # fmt: skip
