"""The relay over real HTTP: signed deliveries, routing, per-subject order, backoff, dead letters and their
replay, several relays on one outbox, leases of a relay that died, and waking on NOTIFY.

Subscribers are real servers on loopback ports (tests/events/conftest.py); events are committed into the
registry schema's outbox; the relay runs in this process, as in a service's.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from services.registry.config import RegistrySettings
from services.registry.db import outbox
from shared.app import create_service_app, database_lifespan
from shared.db import asyncpg_dsn
from shared.events import repository
from shared.events.admin import outbox_admin_router, replay_dead_letters
from shared.events.outbox import channel
from shared.events.relay import Relay
from shared.events.settings import EventSettings, Subscriber
from shared.events.signing import SIGNATURE_HEADER
from shared.security.principal import Role
from tests.conftest import auth, test_jwks
from tests.events.conftest import DEADLINE_S, Emitter, Receiver
from tests.support.database import TestDatabase
from tests.support.processes import HOST, free_port

# Its own relays on a database no real process's relay works in (tests/conftest.py).
pytestmark = pytest.mark.template("relayed")

Start = Callable[..., Awaitable[Receiver]]


def subscriber(name: str, receiver: Receiver | str, *types: str) -> Subscriber:
    """A configured subscriber of ``types`` (all when none) at the receiver."""
    url = receiver if isinstance(receiver, str) else receiver.url
    secret = "sub-secret" if isinstance(receiver, str) else receiver.secret
    return Subscriber(name=name, url=url, types=types or ("*",), secret=SecretStr(secret))


@pytest.fixture
async def relays(database: TestDatabase) -> AsyncIterator[Callable[..., Relay]]:
    """Make relays on the registry's outbox; every one is stopped after the test."""
    made: list[Relay] = []

    def make(*subscribers: Subscriber, **settings: Any) -> Relay:
        options = {"first_retry_s": 0.05, "last_retry_s": 0.2, "timeout_s": 2.0} | settings
        relay = Relay(
            dsn=asyncpg_dsn(database.urls["registry"]), schema="registry",
            settings=EventSettings(subscribers=subscribers, **options),
        )  # fmt: skip
        made.append(relay)
        return relay

    yield make
    for relay in made:
        await relay.stop()


async def delivery(db: asyncpg.Connection, event_id: uuid.UUID, destination: str) -> asyncpg.Record:
    """The delivery row of one event to one destination, and whether it is due in the future."""
    row = await db.fetchrow(
        """SELECT *, next_attempt_at > now() AS in_future FROM registry.outbox_delivery
           WHERE event_id = $1 AND destination = $2""",
        event_id, destination,
    )  # fmt: skip
    assert row is not None, f"no delivery of {event_id} to {destination}"
    return row


async def passes_until(
    relay: Relay, check: Callable[[], Awaitable[bool]], deadline_s: float = DEADLINE_S
) -> None:
    """Run passes (a backing-off delivery falls due meanwhile) until ``check`` holds."""
    end = time.monotonic() + deadline_s
    while not await check():
        assert time.monotonic() < end, f"not reached in {deadline_s} s"
        await relay.run_pass()
        await asyncio.sleep(0.02)


async def test_an_event_is_delivered_once_signed_with_its_headers(
    receivers: Start, relays: Callable[..., Relay], emitter: Emitter, db: asyncpg.Connection
) -> None:
    """POSTed once, signed with the subscriber's secret, the event id as Idempotency-Key, its type in a header."""
    receiver = await receivers(secret="registry-to-scoring")
    relay = relays(subscriber("scoring", receiver))
    event_id = await emitter.emit("registry.product.renamed", "product/p1", {"name": "Chè Tân Cương"})
    await relay.drain()
    [seen] = receiver.received
    assert seen.event_id == str(event_id)
    assert seen.signed, seen.headers.get(SIGNATURE_HEADER)
    assert seen.headers["Idempotency-Key"] == str(event_id)
    assert seen.headers["X-OCOP-Event-Type"] == "registry.product.renamed"
    assert seen.headers["Content-Type"] == "application/json"
    row = await delivery(db, event_id, "scoring")
    assert (row["status"], row["attempts"], row["last_status"]) == ("delivered", 1, 200)
    assert row["delivered_at"] is not None
    await relay.drain()
    assert len(receiver.received) == 1, "a delivered event is not delivered again"


async def test_events_are_routed_by_type_pattern(
    receivers: Start, relays: Callable[..., Relay], emitter: Emitter, db: asyncpg.Connection
) -> None:
    """Each subscriber receives the types its patterns match; an event nobody wants gets no delivery row."""
    products, everything = await receivers(), await receivers()
    relay = relays(
        subscriber("products", products, "registry.product.*"),
        subscriber("audit", everything, "registry.*.*"),
    )
    renamed = await emitter.emit("registry.product.renamed", "product/p1")
    joined = await emitter.emit("registry.producer.joined", "producer/e1")
    unwanted = await emitter.emit("registry.effect.recorded", "event/x")
    # Routed by the relay, not at emit time; "registry.*.*" matches every registry event.
    relay_for_few = relays(subscriber("products", products, "registry.product.*"))
    await relay_for_few.drain()
    assert products.ids() == [str(renamed)]
    assert everything.ids() == []
    assert (
        await db.fetchval("SELECT count(*) FROM registry.outbox_delivery WHERE event_id = $1", unwanted) == 0
    )
    assert await db.fetchval(
        "SELECT routed_at IS NOT NULL FROM registry.outbox_event WHERE id = $1", unwanted
    )
    # A relay configured later routes only what is new (the routed events keep their deliveries).
    later = await emitter.emit("registry.product.priced", "product/p1")
    await relay.drain()
    assert products.ids() == [str(renamed), str(later)]
    assert everything.ids() == [str(later)]
    assert joined not in {uuid.UUID(seen) for seen in everything.ids()}


async def test_two_subscribers_with_different_patterns(
    receivers: Start, relays: Callable[..., Relay], emitter: Emitter, db: asyncpg.Connection
) -> None:
    """Two subscribers of one relay: each gets its own types, each delivery row its own destination."""
    certificates, products = await receivers(), await receivers()
    relay = relays(
        subscriber("certs", certificates, "registry.certificate.*"),
        subscriber("products", products, "registry.product.*", "registry.certificate.revoked"),
    )
    issued = await emitter.emit("registry.certificate.issued", "certificate/c1")
    revoked = await emitter.emit("registry.certificate.revoked", "certificate/c1")
    renamed = await emitter.emit("registry.product.renamed", "product/p1")
    nobody = await emitter.emit("registry.council.renamed", "council/k1")
    await relay.drain()
    assert certificates.ids() == [str(issued), str(revoked)]
    assert sorted(products.ids()) == sorted([str(revoked), str(renamed)])  # two subjects: any order
    rows = await db.fetch("SELECT event_id, destination FROM registry.outbox_delivery")
    assert {(row["event_id"], row["destination"]) for row in rows} == {
        (issued, "certs"), (revoked, "certs"), (revoked, "products"), (renamed, "products"),
    }  # fmt: skip
    assert nobody not in {row["event_id"] for row in rows}


async def test_a_failing_head_holds_its_subject_back_but_not_the_others(
    receivers: Start, relays: Callable[..., Relay], emitter: Emitter, db: asyncpg.Connection
) -> None:
    """Subject A's first event fails once: A's second waits for it; subject B is delivered meanwhile."""
    failed_first: set[str] = set()

    def fail_a1_once(envelope: dict[str, Any], attempt: int) -> int:
        if envelope["data"].get("label") == "a1" and attempt == 1:
            failed_first.add(envelope["id"])
            return 500
        return 200

    receiver = await receivers(behaviour=fail_a1_once)
    relay = relays(subscriber("scoring", receiver), first_retry_s=0.3, last_retry_s=0.3)
    a1 = await emitter.emit("registry.product.renamed", "product/a", {"label": "a1"})
    a2 = await emitter.emit("registry.product.priced", "product/a", {"label": "a2"})
    b1 = await emitter.emit("registry.product.renamed", "product/b", {"label": "b1"})
    b2 = await emitter.emit("registry.product.priced", "product/b", {"label": "b2"})
    await relay.drain()  # until nothing is due: a1 backing off, a2 behind it
    assert failed_first == {str(a1)}
    assert receiver.ids() == [str(b1), str(b2)], "subject B is not held back by A's failure"
    assert str(a2) not in [seen.event_id for seen in receiver.received], "a2 waits for a1"
    assert (await delivery(db, a2, "scoring"))["attempts"] == 0
    await passes_until(relay, lambda: _true(len(receiver.delivered()) == 4))
    subject_a = [seen.event_id for seen in receiver.delivered() if seen.subject == "product/a"]
    assert subject_a == [str(a1), str(a2)]


async def _true(value: bool) -> bool:
    return value


async def test_a_failed_delivery_backs_off_then_dies_after_max_attempts_and_is_replayed(
    receivers: Start, relays: Callable[..., Relay], emitter: Emitter, db: asyncpg.Connection,
    database: TestDatabase,
) -> None:  # fmt: skip
    """500: attempts+1, the status and error kept, a later next attempt; after max_attempts dead; an
    administrator's replay puts it back in line and it is delivered."""
    answer = {"status": 500}
    receiver = await receivers(behaviour=lambda _envelope, _attempt: answer["status"])
    relay = relays(subscriber("scoring", receiver), max_attempts=3, first_retry_s=5.0, last_retry_s=5.0)
    event_id = await emitter.emit("registry.product.renamed", "product/p1")
    await relay.drain()
    row = await delivery(db, event_id, "scoring")
    assert (row["status"], row["attempts"], row["last_status"]) == ("pending", 1, 500)
    assert "answered 500" in row["last_error"]
    assert row["in_future"], "the next attempt waits (first_retry_s, with jitter)"
    assert row["leased_until"] is None
    await relay.drain()
    assert len(receiver.received) == 1, "nothing is retried before it is due"

    fast = relays(subscriber("scoring", receiver), max_attempts=3, first_retry_s=0.01, last_retry_s=0.02)
    await db.execute(  # the wait is the relay's setting at failure time: skip the 5 s here
        "UPDATE registry.outbox_delivery SET next_attempt_at = now() WHERE event_id = $1", event_id
    )
    await passes_until(fast, lambda: _status(db, event_id, "dead"))
    row = await delivery(db, event_id, "scoring")
    assert (row["attempts"], row["last_status"]) == (3, 500)
    assert len(receiver.received) == 3
    await fast.drain()
    assert len(receiver.received) == 3, "a dead letter is not retried"

    answer["status"] = 200
    from shared.db import Database  # the admin's session, as the replay route has

    admin_db = Database.connect(database.urls["registry"], application_name="test-admin", pool_size=1)
    try:
        async with admin_db.sessionmaker() as session, session.begin():
            replayed = await replay_dead_letters(
                session, outbox, channel("registry"), event_id=event_id, destination=None
            )
    finally:
        await admin_db.dispose()
    assert replayed == 1
    await fast.drain()
    row = await delivery(db, event_id, "scoring")
    assert (row["status"], row["attempts"], row["last_status"], row["last_error"]) == (
        "delivered",
        1,
        200,
        None,
    )
    assert receiver.ids() == [str(event_id)]


async def _status(db: asyncpg.Connection, event_id: uuid.UUID, status: str) -> bool:
    return bool(await db.fetchval(
        "SELECT status = $2 FROM registry.outbox_delivery WHERE event_id = $1", event_id, status
    ))  # fmt: skip


async def test_no_answer_in_time_and_a_refused_connection_are_failures(
    receivers: Start, relays: Callable[..., Relay], emitter: Emitter, db: asyncpg.Connection
) -> None:
    """A subscriber that hangs past timeout_s, and a port nobody listens on: failed attempts, no status."""
    hanging = await receivers(behaviour=lambda _envelope, _attempt: "hang")
    nobody = f"http://{HOST}:{free_port()}/internal/events"
    relay = relays(
        subscriber("slow", hanging), subscriber("gone", nobody), timeout_s=0.5, first_retry_s=60.0,
    )  # fmt: skip
    event_id = await emitter.emit("registry.product.renamed", "product/p1")
    await relay.drain()
    slow, gone = await delivery(db, event_id, "slow"), await delivery(db, event_id, "gone")
    assert (slow["status"], slow["attempts"], slow["last_status"]) == ("pending", 1, None)
    assert "no answer within 0.5 s" in slow["last_error"]
    assert (gone["status"], gone["attempts"], gone["last_status"]) == ("pending", 1, None)
    assert gone["last_error"].startswith("POST http://")
    assert slow["in_future"]
    assert gone["in_future"]


async def test_two_relays_at_once_deliver_every_event_exactly_once(
    receivers: Start, relays: Callable[..., Relay], emitter: Emitter, db: asyncpg.Connection
) -> None:
    """Replicas side by side: SKIP LOCKED and the lease hand each delivery to one of them."""
    receiver = await receivers()
    first = relays(subscriber("scoring", receiver), batch_size=15)
    second = relays(subscriber("scoring", receiver), batch_size=15)
    ids: list[uuid.UUID] = []
    for chunk in range(6):
        ids += await emitter.emit_many(
            [("registry.product.renamed", f"product/{chunk}-{index % 25}") for index in range(50)]
        )

    async def all_delivered() -> bool:
        return bool(await db.fetchval(
            "SELECT count(*) = $1 FROM registry.outbox_delivery WHERE status = 'delivered'", len(ids)
        ))  # fmt: skip

    end = time.monotonic() + DEADLINE_S * 3
    while not await all_delivered():
        assert time.monotonic() < end
        await asyncio.gather(first.drain(), second.drain())
    counts = Counter(receiver.ids())
    assert set(counts) == {str(event_id) for event_id in ids}
    assert [event_id for event_id, count in counts.items() if count > 1] == []
    by_subject: dict[str, list[str]] = {}
    order = {str(event_id): index for index, event_id in enumerate(ids)}
    for seen in receiver.delivered():
        by_subject.setdefault(seen.subject, []).append(seen.event_id)
    for subject, delivered in by_subject.items():
        assert delivered == sorted(delivered, key=order.__getitem__), f"{subject} out of order"


async def test_a_lease_left_by_a_dead_relay_is_redelivered_once_it_runs_out(
    receivers: Start, relays: Callable[..., Relay], emitter: Emitter, db: asyncpg.Connection
) -> None:
    """A relay that claimed a delivery and died never records it: another relay waits out the lease."""
    receiver = await receivers()
    live = relays(subscriber("scoring", receiver))
    event_id = await emitter.emit("registry.product.renamed", "product/p1")
    # The dead relay: routes and claims (a 2 s lease), then is gone without posting or recording.
    await repository.route(db, live.statements, limit=10, destinations_for=live.routing.destinations_for)
    [claimed] = await repository.claim(db, live.statements, limit=10, lease_s=2.0)
    assert claimed.event_id == event_id
    assert await live.run_pass() == 0, "a leased delivery is not claimed again while the lease holds"
    assert receiver.received == []
    await passes_until(live, lambda: _true(receiver.ids() == [str(event_id)]))
    row = await delivery(db, event_id, "scoring")
    assert (row["status"], row["attempts"]) == ("delivered", 1)


async def test_a_started_relay_wakes_on_notify(
    receivers: Start, relays: Callable[..., Relay], emitter: Emitter
) -> None:
    """With a 60 s sweep, an event committed after start is delivered at once: LISTEN heard the commit."""
    receiver = await receivers()
    relay = relays(subscriber("scoring", receiver), poll_s=60.0)
    relay.start()
    before = await emitter.emit("registry.product.renamed", "product/p1")
    await receiver.wait_for(lambda: receiver.ids() == [str(before)])
    # Now the relay sleeps on LISTEN (nothing pending): only the commit's NOTIFY can wake it in time.
    after = await emitter.emit("registry.product.priced", "product/p1")
    await receiver.wait_for(lambda: receiver.ids() == [str(before), str(after)])


@pytest.fixture
async def admin_client(database: TestDatabase) -> AsyncIterator[httpx.AsyncClient]:
    """A service app with the registry's outbox admin routes, in-process."""
    settings = RegistrySettings(
        database_url=database.urls["registry"], environment="test", jwt_public_keys=test_jwks(),
        access_log=False, log_level="WARNING",
    )  # fmt: skip
    app = create_service_app(
        name="events-admin-test", title="events admin test", settings=settings,
        routers=[outbox_admin_router("registry", lambda: outbox, channel("registry"))],
        lifespan=database_lifespan("events-admin-test", settings),
    )  # fmt: skip
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry") as opened:
            yield opened


async def test_the_admin_routes_list_and_replay_dead_letters(
    receivers: Start, relays: Callable[..., Relay], emitter: Emitter, admin_client: httpx.AsyncClient
) -> None:
    """Administrators list deliveries (dead letters by status) and replay them; others are refused."""
    answer = {"status": 503}
    receiver = await receivers(behaviour=lambda _envelope, _attempt: answer["status"])
    relay = relays(subscriber("scoring", receiver), max_attempts=1)
    dead = await emitter.emit("registry.product.renamed", "product/p1")
    await relay.drain()
    url = "/v1/outbox/registry/deliveries"

    assert (await admin_client.get(url)).status_code == 401
    refused = await admin_client.get(url, headers=auth(Role.province_officer, "91"))
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert (await admin_client.post(f"{url}/replay", json={}, headers=auth(Role.producer))).status_code == 403

    listed = await admin_client.get(url, params={"status": "dead"}, headers=auth(Role.admin))
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert (item["event_id"], item["destination"], item["status"], item["attempts"], item["last_status"]) == (
        str(dead), "scoring", "dead", 1, 503,
    )  # fmt: skip
    assert item["type"] == "registry.product.renamed"
    pending = await admin_client.get(url, params={"status": "pending"}, headers=auth(Role.admin))
    assert pending.json()["items"] == []

    answer["status"] = 200
    replayed = await admin_client.post(
        f"{url}/replay", json={"destination": "scoring"}, headers=auth(Role.admin)
    )
    assert replayed.status_code == 200, replayed.text
    assert replayed.json() == {"replayed": 1}
    await relay.drain()
    assert receiver.ids() == [str(dead)]
    again = await admin_client.post(f"{url}/replay", json={}, headers=auth(Role.admin))
    assert again.json() == {"replayed": 0}
    bad = await admin_client.post(f"{url}/replay", json={"event": "x"}, headers=auth(Role.admin))
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")


class CountingRelay(Relay):
    """A relay that counts its passes (to see that an idle one sleeps)."""

    passes = 0

    async def run_pass(self) -> int:
        """Count, then pass as usual."""
        self.passes += 1
        return await super().run_pass()


async def test_a_started_relay_sleeps_while_heads_back_off_or_are_leased(
    receivers: Start, emitter: Emitter, db: asyncpg.Connection, database: TestDatabase
) -> None:
    """Events held behind a head that backs off (or that a dead relay leased) are not due: the relay
    sleeps until the head is, instead of passing again and again meanwhile."""
    receiver = await receivers(
        behaviour=lambda envelope, _attempt: 500 if envelope["subject"] == "product/a" else 200
    )
    settings = EventSettings(
        subscribers=(subscriber("scoring", receiver),), poll_s=60.0, first_retry_s=30.0, last_retry_s=30.0
    )
    relay = CountingRelay(dsn=asyncpg_dsn(database.urls["registry"]), schema="registry", settings=settings)
    try:
        await emitter.emit_many(
            [("registry.product.renamed", "product/a"), ("registry.product.priced", "product/a")]
        )
        [leased, _behind] = await emitter.emit_many(
            [("registry.product.renamed", "product/c"), ("registry.product.priced", "product/c")]
        )
        await repository.route(
            db, relay.statements, limit=10, destinations_for=relay.routing.destinations_for
        )
        await db.execute(  # a dead relay's lease on subject C's head
            "UPDATE registry.outbox_delivery SET leased_until = now() + interval '30 seconds' WHERE event_id = $1",
            leased,
        )  # fmt: skip
        relay.start()
        await receiver.wait_for(lambda: len(receiver.received) == 1)
        settled = relay.passes
        await asyncio.sleep(1.0)  # a window to see passes in, not a timing: an idle relay makes none
        assert relay.passes - settled <= 2, f"{relay.passes - settled} passes while nothing was due"
        assert len(receiver.received) == 1
    finally:
        await relay.stop()
