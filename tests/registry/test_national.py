"""The national sync: catalogue events rendered as national records, routed to the ``national`` destination
when configured, delivered by a real relay to a fake national endpoint over HTTP (signed, with the bearer
token, retried while it is down, applied once), and the initial load (national_export).

The catalogue events (``registry.catalogue.*``) are emitted here as the catalogue hooks will emit them
(docs/EVENTS.md): committed into the registry's outbox with the public record read from
``GET /v1/catalogue/{id}``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from pydantic import SecretStr, ValidationError

from services.registry.commands import national_export
from services.registry.config import RegistrySettings
from services.registry.national.destination import NAME, national_extra
from services.registry.national.render import ADDED, CHANGED, REMOVED, national_body, render
from services.registry.national.service import export_event_id
from services.registry.outbox import OUTBOX
from shared.db import Database, asyncpg_dsn
from shared.events.envelope import Envelope
from shared.events.relay import Destination, Extra, Relay, Routing
from shared.events.settings import EventSettings, Subscriber
from shared.events.signing import SIGNATURE_HEADER, verify
from shared.http import DeliveryClient, UpstreamTimeout
from tests import builders
from tests.support.database import TestDatabase
from tests.support.event_schemas import national_errors
from tests.support.fake_national import FakeNational

DEADLINE_S = 15.0  # the longest a test waits for the relay's work in the background: behaviour, not timing
TOKEN = "national-test-token"
SECRET = "national-test-secret"


def settings(url: str = "", **overrides: Any) -> RegistrySettings:
    """The registry's settings with the national sync pointed at ``url`` (none when empty)."""
    national = {"national_url": url, "national_token": TOKEN, "national_secret": SECRET} if url else {}
    return RegistrySettings(environment="test", **(national | overrides))


def record(product_id: str, **changes: Any) -> dict[str, Any]:
    """A public record (CatalogueProduct) as the catalogue builds it."""
    return {
        "id": product_id, "name": "Chè Tân Cương", "ocop_star": 4, "description": None, "story": None,
        "images": [], "ocop_certificate_number": "QN-2026-0001", "issued_on": "2026-01-15",
        "expiry_date": "2029-01-15", "is_national": False, "type": "tea",
        "manufacturer": {"name": "HTX Chè", "representative": "Nguyễn Văn A", "address": None,
                         "phone_number": None, "email": None},
        "name_en": None, "product_code": "P-1", "product_set": 2, "gtin": None, "entity_type": "cooperative",
        "commune": {"code": "06880", "name": "Xã Quảng La"}, "province": {"code": "22", "name": "Quảng Ninh"},
    } | changes  # fmt: skip


def envelope(event_type: str, product_id: str, data: dict[str, Any]) -> Envelope:
    """A catalogue event of the registry."""
    return OUTBOX.envelope(type=event_type, subject=f"product/{product_id}", data=data)


# Rendering: the national body of each change


def test_each_catalogue_change_renders_as_a_valid_national_body() -> None:
    product_id = str(uuid.uuid4())
    added = envelope(
        ADDED, product_id, {"product_id": product_id, "record": record(product_id), "reason": None}
    )
    changed_record = record(product_id, ocop_star=5, is_national=True)
    changed = envelope(
        CHANGED, product_id, {"product_id": product_id, "record": changed_record, "reason": None}
    )
    removed = envelope(REMOVED, product_id, {"product_id": product_id, "record": None, "reason": "revoked"})
    bodies = [orjson.loads(render(event)) for event in (added, changed, removed)]
    assert [body["change"] for body in bodies] == ["added", "changed", "removed"]
    assert [body["event_id"] for body in bodies] == [str(event.id) for event in (added, changed, removed)]
    assert bodies[0]["product"] == record(product_id)  # the public record, field for field
    assert bodies[1]["product"] == changed_record
    assert bodies[2]["product"] == {"id": product_id, "status": "removed", "reason": "revoked"}
    assert [body["reason"] for body in bodies] == [None, None, "revoked"]
    assert bodies[0]["occurred_at"] == added.occurred_at.isoformat()
    for body in bodies:
        assert national_errors(body) == [], body


def test_rendering_never_raises_and_the_receiver_refuses_what_is_broken() -> None:
    """A broken event still renders (a pass of the relay must not fail); the national schema refuses it."""
    product_id = str(uuid.uuid4())
    no_record = national_body(envelope(ADDED, product_id, {"product_id": product_id}))
    assert no_record["product"] is None
    assert national_errors(no_record)
    # A removal without a product id in its data takes it from the subject.
    tombstone = national_body(envelope(REMOVED, product_id, {}))
    assert tombstone["product"] == {"id": product_id, "status": "removed", "reason": None}
    assert national_errors(tombstone) == []
    half = record(product_id)
    del half["ocop_star"]
    assert any("ocop_star" in error for error in national_errors(national_body(
        envelope(CHANGED, product_id, {"product_id": product_id, "record": half, "reason": None})
    )))  # fmt: skip


def test_an_exported_record_keeps_its_id_until_it_changes() -> None:
    product_id = uuid.uuid4()
    text = orjson.dumps(record(str(product_id))).decode()
    assert export_event_id(product_id, text) == export_event_id(product_id, text)
    assert export_event_id(product_id, text) != export_event_id(uuid.uuid4(), text)
    changed = orjson.dumps(record(str(product_id), ocop_star=5)).decode()
    assert export_event_id(product_id, changed) != export_event_id(product_id, text)


# Configuration and routing


def test_bad_national_configuration_is_refused() -> None:
    good = {
        "national_token": "a-real-token-1", "national_secret": "a-real-secret-1",
        "webhook_secret_key": "a-real-webhook-sealing-key-0123456789",  # production requires one
    }  # fmt: skip
    production = RegistrySettings(
        environment="production", national_url="https://ocop.gov.vn/api/products", **good
    )
    assert production.national_url.startswith("https://")
    refused = [
        ({"national_url": "http://ocop.gov.vn/api/products"}, "https"),
        ({"national_url": "ocop.gov.vn/api/products"}, "absolute"),
        ({"national_url": "https://ocop.gov.vn/x", "national_token": ""}, "national_token is required"),
        ({"national_url": "https://ocop.gov.vn/x", "national_secret": ""}, "national_secret is required"),
        ({"national_url": "https://ocop.gov.vn/x", "national_secret": "changeme"}, "national_secret holds a placeholder"),
        ({"national_url": "https://ocop.gov.vn/x", "national_timeout_s": 0}, "national_timeout_s"),
    ]  # fmt: skip
    for overrides, why in refused:
        with pytest.raises(ValidationError, match=why):
            RegistrySettings(environment="production", **(good | overrides))
    # Plain http on a developer's machine and in the tests (the fake endpoint) is allowed.
    assert RegistrySettings(environment="test", national_url="http://127.0.0.1:9/x", **good).national_url


async def test_the_national_destination_is_routed_only_when_configured(db: asyncpg.Connection) -> None:
    types = [ADDED, CHANGED, REMOVED, "registry.product.updated", "scoring.certificate.issued"]
    stamps = Subscriber(name="stamps", url="http://stamps/internal/events", types=("registry.product.*",),
                        secret=SecretStr("s"))  # fmt: skip
    assert national_extra(settings()) is None
    unconfigured = Routing.compose((stamps,), national_extra(settings()))
    assert unconfigured.extra_routes is None
    assert await unconfigured.destinations_for(db, types) == {
        ADDED: [], CHANGED: [], REMOVED: [], "registry.product.updated": ["stamps"], "scoring.certificate.issued": [],
    }  # fmt: skip
    assert await unconfigured.resolve(NAME) is None

    configured = settings("https://ocop.gov.vn/api/products", national_timeout_s=7.5)
    routing = Routing.compose((stamps,), national_extra(configured))
    routes = await routing.destinations_for(db, types)
    assert routes == {
        ADDED: [NAME], CHANGED: [NAME], REMOVED: [NAME], "registry.product.updated": ["stamps"],
        "scoring.certificate.issued": [],
    }  # fmt: skip
    destination = await routing.resolve(NAME)
    assert destination is not None
    assert (destination.url, destination.secret, destination.timeout_s) == (
        configured.national_url,
        SECRET,
        7.5,
    )
    assert destination.headers == {"Authorization": f"Bearer {TOKEN}"}
    assert destination.render is render
    assert (await routing.resolve("stamps")) is not None
    assert await routing.resolve("elsewhere") is None


async def test_another_part_s_destinations_compose_with_the_national_one(db: asyncpg.Connection) -> None:
    """Routing.compose merges each part's routes (a type may go to both) and resolves each part's names."""
    hook = Destination("webhook:1", "https://partner.example/hook", "partner-secret")

    async def hook_routes(_connection: asyncpg.Connection, types: Any) -> dict[str, list[str]]:
        return {t: ["webhook:1"] for t in types if t.startswith("registry.catalogue.")}

    async def hook_resolve(name: str) -> Destination | None:
        return hook if name == hook.name else None

    routing = Routing.compose(
        (), Extra(hook_routes, hook_resolve), national_extra(settings("https://ocop.gov.vn/x")), None
    )
    assert await routing.destinations_for(db, [ADDED, "registry.product.updated"]) == {
        ADDED: ["webhook:1", NAME], "registry.product.updated": [],
    }  # fmt: skip
    assert await routing.resolve("webhook:1") is hook
    national = await routing.resolve(NAME)
    assert national is not None
    assert national.url == "https://ocop.gov.vn/x"


# Delivery by a real relay to the fake national endpoint


@pytest.fixture
async def national(database: TestDatabase) -> AsyncIterator[FakeNational]:
    """The fake national endpoint on a free port, stopped after the test before its database is reset (which
    waits for every task the test started: the endpoint's own among them)."""
    fake = await FakeNational(TOKEN, SECRET).start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def relays(database: TestDatabase) -> AsyncIterator[Callable[[RegistrySettings], Relay]]:
    """Started relays on the registry's outbox, routed as the registry's main.py routes; stopped after the test."""
    made: list[Relay] = []

    def start(registry: RegistrySettings) -> Relay:
        events = EventSettings(first_retry_s=0.05, last_retry_s=0.2, poll_s=0.5)
        relay = Relay(
            dsn=asyncpg_dsn(database.urls["registry"]), schema="registry", settings=events,
            routing=Routing.compose((), national_extra(registry)),
        )  # fmt: skip
        relay.start()
        made.append(relay)
        return relay

    yield start
    for relay in made:
        await relay.stop()


Emit = Callable[[str, str, "dict[str, Any] | None", "str | None"], Awaitable[uuid.UUID]]


@pytest.fixture
async def emit(database: TestDatabase) -> AsyncIterator[Emit]:
    """Commit a catalogue event into the registry's outbox, as the catalogue hooks do."""
    connected = Database.connect(
        database.urls["registry"], application_name="test-catalogue-events", pool_size=1
    )

    async def one(
        event_type: str, product_id: str, public: dict[str, Any] | None, reason: str | None
    ) -> uuid.UUID:
        async with connected.sessionmaker() as session, session.begin():
            sent = await OUTBOX.emit(
                session, type=event_type, subject=f"product/{product_id}",
                data={"product_id": product_id, "record": public, "reason": reason},
            )  # fmt: skip
        return sent.id

    try:
        yield one
    finally:
        await connected.dispose()


async def public_record(client: httpx.AsyncClient, product_id: str) -> dict[str, Any]:
    """What GET /v1/catalogue/{id} answers for the product."""
    answer = await client.get(f"/v1/catalogue/{product_id}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def recorded_delivered(db: asyncpg.Connection, events: list[uuid.UUID]) -> None:
    """Until the relay has recorded each event's national delivery as delivered (it records after posting)."""
    end = time.monotonic() + DEADLINE_S
    while await db.fetchval(
        "SELECT count(*) FROM registry.outbox_delivery WHERE event_id = ANY($1) AND destination = $2"
        " AND status = 'delivered'", events, NAME,
    ) < len(events):  # fmt: skip
        assert time.monotonic() < end, f"not recorded delivered within {DEADLINE_S} s"
        await asyncio.sleep(0.05)


async def national_delivery(db: asyncpg.Connection, event_id: uuid.UUID) -> asyncpg.Record:
    """The delivery row of one event to the national destination."""
    row = await db.fetchrow(
        "SELECT * FROM registry.outbox_delivery WHERE event_id = $1 AND destination = $2", event_id, NAME
    )
    assert row is not None, f"no national delivery of {event_id}"
    return row


@pytest.mark.template("relayed")  # relays of its own, apart from the real processes' relays
async def test_a_catalogue_change_reaches_the_national_system_signed_with_the_bearer_token(
    registry_client: httpx.AsyncClient, producer: builders.Producer, national: FakeNational,
    relays: Callable[[RegistrySettings], Relay], emit: Emit, db: asyncpg.Connection,
) -> None:  # fmt: skip
    product = await builders.certified_product(registry_client, producer)
    public = await public_record(registry_client, product["id"])
    relays(settings(national.url))
    added = await emit(ADDED, product["id"], public, None)
    await national.wait_for(lambda: str(added) in national.accepted)
    # The certification itself was published by the catalogue feed too; this test follows its own event.
    [post] = [post for post in national.posts if post.headers["Idempotency-Key"] == str(added)]
    assert post.status == 200
    assert post.headers["Authorization"] == f"Bearer {TOKEN}"
    assert post.headers["Idempotency-Key"] == str(added)
    assert post.headers["X-OCOP-Event-Type"] == ADDED
    body = national.accepted[str(added)]
    assert verify(post.headers[SIGNATURE_HEADER], post.raw, [SECRET])
    assert (body["change"], body["reason"], body["product"]) == ("added", None, public)

    # Its later changes follow, in order; the national system's view ends with the tombstone.
    changed = await emit(CHANGED, product["id"], public | {"name": "Chè Tân Cương đặc biệt"}, None)
    removed = await emit(REMOVED, product["id"], None, "revoked")
    await national.wait_for(lambda: str(removed) in national.accepted)
    ours = [str(added), str(changed), str(removed)]
    assert [event for event in national.accepted if event in ours] == ours
    assert national.products() == {product["id"]: {"id": product["id"], "status": "removed",
                                                   "reason": "revoked"}}  # fmt: skip
    await recorded_delivered(db, [added, changed, removed])


@pytest.mark.template("relayed")  # relays of its own, apart from the real processes' relays
async def test_without_a_national_url_nothing_is_sent_to_it(
    national: FakeNational, relays: Callable[[RegistrySettings], Relay], emit: Emit, db: asyncpg.Connection
) -> None:
    product_id = str(uuid.uuid4())
    relay = relays(settings())
    event_id = await emit(ADDED, product_id, record(product_id), None)
    await relay.drain()
    assert await db.fetchval(
        "SELECT routed_at IS NOT NULL FROM registry.outbox_event WHERE id = $1", event_id
    )
    assert (
        await db.fetchval("SELECT count(*) FROM registry.outbox_delivery WHERE event_id = $1", event_id) == 0
    )
    assert national.posts == []


@pytest.mark.template("relayed")  # relays of its own, apart from the real processes' relays
async def test_while_the_national_system_is_down_deliveries_wait_and_arrive_once_it_is_back(
    national: FakeNational, relays: Callable[[RegistrySettings], Relay], emit: Emit, db: asyncpg.Connection
) -> None:
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    national.fail(500)
    relays(settings(national.url, national_timeout_s=0.5))
    events = [
        await emit(ADDED, first, record(first), None),
        await emit(ADDED, second, record(second), None),
        await emit(REMOVED, first, None, "expired"),
    ]
    await national.wait_for(lambda: len(national.posts) >= 4)  # each head retried at least once
    assert national.accepted == {}
    row = await national_delivery(db, events[0])
    assert (row["status"], row["last_status"]) == ("pending", 500)
    # Per product, in order: the removal of the first product is not tried before its addition.
    assert str(events[2]) not in {post.event_id for post in national.posts}
    # It comes back slowly: one answer never comes (nothing done), one comes too late (done, the
    # answer lost); then it answers.
    national.recover()
    national.fail("timeout", times=1)
    national.fail("late", times=1)
    await national.wait_for(lambda: len(national.accepted) == 3 and all(
        any(post.event_id == str(event) and post.status == 200 for post in national.posts) for event in events
    ))  # fmt: skip
    applied = list(national.accepted)
    assert sorted(applied) == sorted(str(event) for event in events)
    assert applied.index(str(events[0])) < applied.index(str(events[2]))  # per product, in order
    assert national.products()[first]["status"] == "removed"
    assert national.products()[second]["id"] == second
    # Exactly once at the receiver, though posted several times: each event answered 200 once, and the
    # delivery whose answer was lost came again and was recognised as a duplicate.
    for event in events:
        assert sum(1 for post in national.posts if post.event_id == str(event) and post.status == 200) == 1
    assert [post.status for post in national.posts].count(0) == 2
    assert sum(1 for post in national.posts if post.duplicate) == 1
    await recorded_delivered(db, events)
    timed_out = await db.fetchval(
        "SELECT count(*) FROM registry.outbox_delivery WHERE destination = $1 AND attempts > 1", NAME
    )
    assert timed_out >= 1


# The initial load


async def run_export(
    database: TestDatabase, url: str, *args: str, token: str = TOKEN
) -> tuple[int, dict[str, Any]]:
    """``python -m services.registry.commands.national_export`` in a process of its own: status and summary."""
    env = os.environ | {
        "REGISTRY_ENVIRONMENT": "test", "REGISTRY_DATABASE_URL": database.urls["registry"],
        "REGISTRY_NATIONAL_URL": url, "REGISTRY_NATIONAL_TOKEN": token, "REGISTRY_NATIONAL_SECRET": SECRET,
    }  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.registry.commands.national_export", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode is not None
    summary = orjson.loads(out) if out.strip() else {"stderr": err.decode()}
    return process.returncode, summary


@pytest.mark.template("relayed")  # relays of its own, apart from the real processes' relays
async def test_the_export_posts_the_whole_catalogue_and_a_second_run_sends_the_same_ids(
    registry_client: httpx.AsyncClient,
    producer: builders.Producer,
    national: FakeNational,
    database: TestDatabase,
) -> None:
    listed = [
        (await builders.certified_product(registry_client, producer, star=star))["id"]
        for star in (3, 4, 5, 4)
    ]
    await builders.certified_product(registry_client, producer, then=("revoked",))  # not in the catalogue
    await builders.product(registry_client, producer)  # never certified
    catalogue = (await registry_client.get("/v1/catalogue", params={"limit": 100})).json()
    assert sorted(item["id"] for item in catalogue["items"]) == sorted(listed)

    status, summary = await run_export(database, national.url, "--page-size", "3")
    assert status == 0, summary
    assert summary | {"seconds": 0} == {"dry_run": False, "products": 4, "sent": 4, "refused": 0, "pages": 2,
                                        "seconds": 0, "first_refusal": None}  # fmt: skip
    assert len(national.accepted) == len(catalogue["items"])
    assert {body["change"] for body in national.accepted.values()} == {"added"}
    assert {body["reason"] for body in national.accepted.values()} == {"initial_load"}
    assert national.products() == {item["id"]: item for item in catalogue["items"]}

    # Again, in-process this time: the same ids, which the receiver already has.
    first_ids = list(national.accepted)
    again = await national_export.run(
        RegistrySettings(environment="test", database_url=database.urls["registry"], national_url=national.url,
                         national_token=TOKEN, national_secret=SECRET),
        dry_run=False, page_size=500,
    )  # fmt: skip
    assert (again.products, again.sent, again.refused, again.pages) == (4, 4, 0, 1)
    assert list(national.accepted) == first_ids
    second_run = national.posts[4:]
    assert sorted(post.event_id or "" for post in second_run) == sorted(first_ids)
    assert all(post.status == 200 for post in national.posts)


@pytest.mark.template("relayed")  # relays of its own, apart from the real processes' relays
async def test_the_export_fails_when_the_endpoint_refuses_and_a_dry_run_sends_nothing(
    registry_client: httpx.AsyncClient,
    producer: builders.Producer,
    national: FakeNational,
    database: TestDatabase,
) -> None:
    for _ in range(3):
        await builders.certified_product(registry_client, producer)
    status, summary = await run_export(database, national.url, "--page-size", "2", token="wrong-token")
    assert status == 1, summary
    # It stops after the page it was on: two refused, the second page never read.
    assert (summary["products"], summary["sent"], summary["refused"], summary["pages"]) == (2, 0, 2, 1)
    assert summary["first_refusal"].startswith("answered 401")
    assert national.accepted == {}

    # In-process from here (a process costs seconds): the endpoint down, a dry run, no URL at all.
    configured = settings(national.url, database_url=database.urls["registry"])
    national.fail(500)
    down = await national_export.run(configured, dry_run=False, page_size=500)
    assert (down.products, down.sent, down.refused) == (3, 0, 3)
    national.recover()
    posted = len(national.posts)
    dry = await national_export.run(configured, dry_run=True, page_size=500)
    assert (dry.dry_run, dry.products, dry.sent, dry.refused) == (True, 3, 0, 0)
    assert len(national.posts) == posted
    assert national.accepted == {}


def test_the_export_without_a_national_url_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REGISTRY_NATIONAL_URL", "")
    assert national_export.main([]) == 2
    assert "REGISTRY_NATIONAL_URL is not set" in capsys.readouterr().err


async def test_the_national_timeout_governs_its_deliveries_not_the_relay_s() -> None:
    """A delivery gives up after the destination's own limit, well before the client's (30 s here)."""
    fake = await FakeNational(TOKEN, SECRET).start()
    client = DeliveryClient(timeout_s=30.0)
    try:
        fake.fail("timeout")
        with pytest.raises(UpstreamTimeout, match=r"within 0\.3 s"):
            await client.post(fake.url, b"{}", {"Content-Type": "application/json"}, timeout_s=0.3)
    finally:
        await client.aclose()
        await fake.stop()
