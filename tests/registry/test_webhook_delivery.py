"""A partner receives signed catalogue events through the registry's relay, and reads the delivery log."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest

from services.registry.config import RegistrySettings
from services.registry.main import create_app
from services.registry.webhooks.delivery import webhook_routing
from shared.db import asyncpg_dsn
from shared.events.relay import Relay, Routing
from shared.topology import REPO_ROOT
from tests import builders
from tests.conftest import asgi_client, auth, in_process_events, test_jwks
from tests.support.database import TestDatabase
from tests.support.partner import FakePartner, fake_partner

# Its own relays on a database no real process's relay works in (tests/conftest.py).
pytestmark = pytest.mark.template("relayed")

PARTNER = auth("partner", "shopee", sub="shopee-integration")


def docs_verify() -> Callable[[str, bytes, str], bool]:
    """The ``verify`` function docs/EVENTS.md gives receivers, run as written."""
    text = (REPO_ROOT / "docs" / "EVENTS.md").read_text(encoding="utf-8")
    [snippet] = re.findall(r"Verifying a delivery.*?```python\n(.*?)```", text, re.DOTALL)
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)  # noqa: S102 - the documentation's own code, under test
    verify: Callable[[str, bytes, str], bool] = namespace["verify"]
    return verify


@asynccontextmanager
async def registry(
    database: TestDatabase, partner: FakePartner
) -> AsyncIterator[tuple[httpx.AsyncClient, Relay]]:
    """The registry in-process on the test's database, allowed to deliver to the local fake partner, and its relay."""
    events = in_process_events("registry").model_copy(update={"first_retry_s": 0.01, "last_retry_s": 0.02})
    settings = RegistrySettings(
        database_url=database.urls["registry"], environment="test", jwt_public_keys=test_jwks(), events=events,
        webhook_allow_private_targets=True, webhook_allowed_ports=(partner.port,),
    )  # fmt: skip
    app = create_app(settings)
    async for client in asgi_client(app):
        relay = Relay(
            dsn=asyncpg_dsn(database.urls["registry"]), schema="registry", settings=events,
            routing=Routing.compose(settings.events.subscribers, webhook_routing(settings, app.state.db)),
        )  # fmt: skip
        try:
            yield client, relay
        finally:
            await relay.stop()


async def test_a_certification_reaches_the_partner_signed(database: TestDatabase, db: Any) -> None:
    async with fake_partner() as partner, registry(database, partner) as (client, relay):
        created = await client.post(
            "/v1/webhooks", json={"url": partner.url(), "event_types": ["registry.catalogue.product_added"]},
            headers=PARTNER,
        )  # fmt: skip
        assert created.status_code == 201, created.text
        subscription = created.json()
        owner = await builders.producer(client, db)
        product = await builders.certified_product(client, owner)
        await relay.drain()

        [delivery] = partner.received
        verify = docs_verify()
        assert verify(delivery.headers["x-ocop-signature"], delivery.body, subscription["secret"])
        assert not verify(delivery.headers["x-ocop-signature"], delivery.body, "whsec_someone-elses")
        assert not verify(delivery.headers["x-ocop-signature"], delivery.body + b" ", subscription["secret"])
        envelope = orjson.loads(delivery.body)
        assert (envelope["type"], envelope["source"], envelope["subject"]) == (
            "registry.catalogue.product_added", "registry", f"product/{product['id']}",
        )  # fmt: skip
        assert delivery.headers["idempotency-key"] == envelope["id"]
        assert delivery.headers["x-ocop-event-type"] == "registry.catalogue.product_added"
        # The record exactly as the public catalogue serves it.
        public = await client.get(f"/v1/catalogue/{product['id']}")
        assert envelope["data"]["record"] == public.json()

        log = await client.get(f"/v1/webhooks/{subscription['id']}/deliveries", headers=PARTNER)
        [row] = log.json()["items"]
        assert (row["event_id"], row["status"], row["attempts"], row["last_status"]) == (
            envelope["id"], "delivered", 1, 200,
        )  # fmt: skip
        assert row["delivered_at"] is not None
        assert row["last_error"] is None
        # Another partner sees neither the subscription nor its log.
        other = await client.get(
            f"/v1/webhooks/{subscription['id']}/deliveries", headers=auth("partner", "tiki")
        )
        assert other.status_code == 404


async def test_a_failing_partner_sees_retries_and_the_error(database: TestDatabase, db: Any) -> None:
    async with fake_partner() as partner, registry(database, partner) as (client, relay):
        partner.status = 500
        created = await client.post(
            "/v1/webhooks",
            json={"url": partner.url(), "event_types": ["registry.catalogue.*"]},
            headers=PARTNER,
        )
        subscription = created.json()
        owner = await builders.producer(client, db)
        await builders.certified_product(client, owner)
        destination = f"webhook:{subscription['id']}"
        for _ in range(3):
            await relay.run_pass()
            # Retries back off; bring the next attempt forward instead of waiting for it.
            await db.execute(
                "UPDATE registry.outbox_delivery SET next_attempt_at = now() WHERE destination = $1",
                destination,
            )
        assert len(partner.received) == 3
        assert len({r.headers["idempotency-key"] for r in partner.received}) == 1  # the same event each time
        log = (await client.get(f"/v1/webhooks/{subscription['id']}/deliveries", headers=PARTNER)).json()
        [row] = log["items"]
        assert (row["status"], row["attempts"], row["last_status"]) == ("pending", 3, 500)
        assert "answered 500" in row["last_error"]
        assert "partner down" in row["last_error"]

        partner.status = 202
        await relay.run_pass()
        [row] = (await client.get(f"/v1/webhooks/{subscription['id']}/deliveries", headers=PARTNER)).json()[
            "items"
        ]
        assert (row["status"], row["attempts"], row["last_status"]) == ("delivered", 4, 202)


async def test_a_target_refused_at_delivery_is_a_failed_attempt(database: TestDatabase, db: Any) -> None:
    """The check runs again before every delivery: a relay under the production rules refuses the local address."""
    async with fake_partner() as partner, registry(database, partner) as (client, permissive):
        created = await client.post(
            "/v1/webhooks",
            json={"url": partner.url(), "event_types": ["registry.catalogue.*"]},
            headers=PARTNER,
        )
        subscription = created.json()
        owner = await builders.producer(client, db)
        await builders.certified_product(client, owner)
        strict_settings = RegistrySettings(
            database_url=database.urls["registry"], environment="test", events=permissive.settings,
            webhook_allowed_ports=(partner.port,),
        )  # fmt: skip
        strict = Relay(
            dsn=permissive.dsn, schema="registry", settings=permissive.settings,
            routing=Routing.compose(
                (), webhook_routing(strict_settings, client._transport.app.state.db)  # type: ignore[attr-defined]
            ),
        )  # fmt: skip
        try:
            await strict.run_pass()
        finally:
            await strict.stop()
        assert partner.received == []
        [row] = (await client.get(f"/v1/webhooks/{subscription['id']}/deliveries", headers=PARTNER)).json()[
            "items"
        ]
        assert (row["status"], row["attempts"], row["last_status"]) == ("pending", 1, None)
        assert row["last_error"].startswith("refused:")
        assert "scheme" in row["last_error"]
        assert uuid.UUID(row["event_id"])
