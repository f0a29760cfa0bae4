"""The relay: delivers outbox rows to their destinations, signed, at least once, in order per subject.

Runs as a task in the service's process (``running_relay`` in the lifespan) and is safe with several
replicas: deliveries are claimed with ``FOR UPDATE SKIP LOCKED`` and held by a lease, not by an open
transaction, so a relay killed mid-delivery leaves rows whose lease simply runs out. It sleeps until
``LISTEN`` hears a commit (or the next retry falls due), never polling tightly. A destination that
fails is retried with exponential backoff and jitter, and after ``max_attempts`` its delivery is a
dead letter an administrator can replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import asyncpg

from shared.events import repository
from shared.events.envelope import Envelope
from shared.events.outbox import channel
from shared.events.repository import Claimed, Outcome, RelayStatements, RouteFor
from shared.events.settings import EventSettings, Subscriber
from shared.events.signing import SIGNATURE_HEADER, sign
from shared.http import DeliveryClient, UpstreamError

logger = logging.getLogger("shared.events.relay")

PRUNE_EVERY_S = 3600.0
RECONNECT_MAX_S = 5.0


def envelope_body(envelope: Envelope) -> bytes:
    """The default rendering: the envelope itself."""
    return envelope.to_json()


@dataclass(frozen=True)
class Destination:
    """Where and how one destination receives events."""

    name: str
    url: str
    secret: str
    render: Callable[[Envelope], bytes] = envelope_body
    # Checked before every delivery (partner URLs): a reason to refuse it, or None.
    refuse: Callable[[], Awaitable[str | None]] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    # A limit of its own for each delivery (a slow outside system); None: the relay's EVENTS__TIMEOUT_S.
    timeout_s: float | None = None
    # The addresses the connection may go to, checked at connect time (partner URLs: public ones only).
    allow_address: Callable[[str], bool] | None = None


Destinations = Callable[[str], Awaitable[Destination | None]]


@dataclass(frozen=True)
class Extra:
    """Destinations one part of a service adds beyond configuration (partner webhooks, the national system).

    ``routes`` names its destinations per event type, ``destinations`` resolves its names (None: not its).
    """

    routes: RouteFor
    destinations: Destinations


def merged_routes(*routes: RouteFor) -> RouteFor:
    """One ``extra_routes`` of several: each type goes to the destinations any of them names."""

    async def route(connection: asyncpg.Connection, types: Sequence[str]) -> Mapping[str, Sequence[str]]:
        names: dict[str, list[str]] = {}
        for routes_of in routes:
            for event_type, destinations in (await routes_of(connection, types)).items():
                names.setdefault(event_type, []).extend(destinations)
        return names

    return route


def merged_destinations(*resolvers: Destinations) -> Destinations:
    """One ``extra_destinations`` of several: the first that knows a name resolves it."""

    async def resolve(name: str) -> Destination | None:
        for resolver in resolvers:
            if (destination := await resolver(name)) is not None:
                return destination
        return None

    return resolve


@dataclass(frozen=True)
class Routing:
    """Who receives which events: the configured subscribers, and any further destinations a service adds.

    ``extra_routes`` names further destinations per event type (partner webhooks, the national system),
    read from the database when events are routed; ``extra_destinations`` resolves those names.
    """

    subscribers: tuple[Subscriber, ...] = ()
    extra_routes: RouteFor | None = None
    extra_destinations: Destinations | None = None

    @classmethod
    def compose(cls, subscribers: Sequence[Subscriber], *extras: Extra | None) -> Routing:
        """The configured subscribers plus each part's extras (None: a part that is not configured)."""
        present = [extra for extra in extras if extra is not None]
        if not present:
            return cls(tuple(subscribers))
        return cls(
            tuple(subscribers),
            merged_routes(*(extra.routes for extra in present)),
            merged_destinations(*(extra.destinations for extra in present)),
        )

    async def destinations_for(
        self, connection: asyncpg.Connection, types: Sequence[str]
    ) -> dict[str, list[str]]:
        """Destination names per event type, each once."""
        extra = await self.extra_routes(connection, types) if self.extra_routes is not None else {}
        return {
            event_type: list(dict.fromkeys(
                [subscriber.name for subscriber in self.subscribers if subscriber.wants(event_type)]
                + list(extra.get(event_type, ()))
            ))
            for event_type in types
        }  # fmt: skip

    async def resolve(self, name: str) -> Destination | None:
        """The destination of a name (None once it is no longer configured)."""
        for subscriber in self.subscribers:
            if subscriber.name == name:
                return Destination(name, subscriber.url, subscriber.secret.get_secret_value())
        return await self.extra_destinations(name) if self.extra_destinations is not None else None


def delivery_request(destination: Destination, envelope: Envelope) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one delivery of ``envelope`` to ``destination``, signed now."""
    body = destination.render(envelope)
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": str(envelope.id),
        "X-OCOP-Event-Type": envelope.type,
        SIGNATURE_HEADER: sign(destination.secret, body),
        **destination.headers,
    }
    return body, headers


def retry_delay(attempts: int, settings: EventSettings) -> float:
    """Seconds before the next attempt after ``attempts`` failures: exponential, capped, with jitter."""
    ceiling = min(settings.last_retry_s, settings.first_retry_s * 2 ** min(attempts, 40))
    return float(ceiling * (0.5 + random.random() / 2))  # noqa: S311 - jitter, not a secret


class Relay:
    """One process's relay for one service's outbox."""

    def __init__(
        self,
        *,
        dsn: str,
        schema: str,
        settings: EventSettings,
        routing: Routing | None = None,
        client: DeliveryClient | None = None,
    ) -> None:
        self.dsn = dsn
        self.schema = schema
        self.settings = settings
        self.routing = routing or Routing(settings.subscribers)
        self.client = client or DeliveryClient(
            timeout_s=settings.timeout_s, max_connections=settings.concurrency
        )
        self.statements = RelayStatements(schema)
        self.channel = channel(schema)
        self._pool: asyncpg.Pool | None = None
        self._listener: asyncpg.Connection | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._pruned_at = 0.0
        self._limit = asyncio.Semaphore(settings.concurrency)
        self._per_destination: dict[str, asyncio.Semaphore] = {}

    def wake(self) -> None:
        """Look for due deliveries now."""
        self._wake.set()

    async def _connect(self) -> asyncpg.Pool:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                self.dsn, min_size=1, max_size=2, server_settings={"application_name": f"{self.schema}-relay"}
            )
        if self._listener is None or self._listener.is_closed():
            self._listener = await asyncpg.connect(
                self.dsn, server_settings={"application_name": "relay-listen"}
            )
            await self._listener.add_listener(self.channel, lambda *_: self._wake.set())
            self._wake.set()  # anything committed while nobody listened is due now
        return self._pool

    async def _disconnect(self) -> None:
        listener, pool, self._listener, self._pool = self._listener, self._pool, None, None
        if listener is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(listener.close(), 2)
        if pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pool.close(), 2)

    async def run_pass(self) -> int:
        """Route new events, claim due deliveries, post them concurrently, record the outcomes.

        Returns how many events were routed plus deliveries claimed: 0 when there was nothing to do.
        """
        pool = await self._connect()
        async with pool.acquire() as connection:
            routed = await repository.route(
                connection, self.statements, limit=self.settings.batch_size,
                destinations_for=self.routing.destinations_for,
            )  # fmt: skip
            claimed = await repository.claim(
                connection, self.statements, limit=self.settings.batch_size, lease_s=self.settings.lease_s
            )
        if not claimed:
            return routed
        outcomes = await asyncio.gather(*(self._deliver(item) for item in claimed))
        async with pool.acquire() as connection:
            await repository.record(
                connection, self.statements, outcomes, max_attempts=self.settings.max_attempts
            )
        return routed + len(claimed)

    def _destination_limit(self, name: str) -> asyncio.Semaphore:
        limit = self._per_destination.get(name)
        if limit is None:
            limit = self._per_destination[name] = asyncio.Semaphore(self.settings.destination_concurrency)
        return limit

    async def _deliver(self, item: Claimed) -> Outcome:
        # A subscriber gets at most destination_concurrency posts at once: more would only queue behind its
        # database pool, outlast the timeout and come back as retries of work it is still doing.
        async with self._destination_limit(item.destination), self._limit:
            status, error = await self._post(item)
        if error is not None:
            logger.warning("event %s to %s failed (attempt %d): %s", item.envelope.type, item.destination,
                           item.attempts + 1, error)  # fmt: skip
        return Outcome(
            item.event_id, item.destination, status, error, retry_delay(item.attempts, self.settings)
        )

    async def _post(self, item: Claimed) -> tuple[int | None, str | None]:
        destination = await self.routing.resolve(item.destination)
        if destination is None:
            return None, f"no destination named {item.destination!r} is configured"
        if destination.refuse is not None and (reason := await destination.refuse()) is not None:
            return None, reason
        body, headers = delivery_request(destination, item.envelope)
        try:
            answer = await self.client.post(
                destination.url, body, headers, timeout_s=destination.timeout_s,
                allow_address=destination.allow_address,
            )  # fmt: skip
        except UpstreamError as exc:
            return None, str(exc)
        if 200 <= answer.status < 300:
            return answer.status, None
        return answer.status, f"answered {answer.status}: {answer.body[:300]}"

    async def _seconds_to_next_due(self) -> float:
        pool = await self._connect()
        async with pool.acquire() as connection:
            wait = await repository.seconds_to_next_due(connection, self.statements)
        return self.settings.poll_s if wait is None else min(wait, self.settings.poll_s)

    async def _prune_now_and_then(self) -> None:
        if time.monotonic() - self._pruned_at < PRUNE_EVERY_S:
            return
        self._pruned_at = time.monotonic()
        pool = await self._connect()
        async with pool.acquire() as connection:
            gone = await repository.prune(
                connection, self.statements, retention_days=self.settings.retention_days
            )
        if gone:
            logger.info("pruned %d delivered events from %s's outbox", gone, self.schema)

    async def _loop(self) -> None:
        failures = 0
        while True:
            try:
                self._wake.clear()
                if await self.run_pass():
                    failures = 0
                    continue
                await self._prune_now_and_then()
                wait = await self._seconds_to_next_due()
                failures = 0
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                # The database restarted or went away: reconnect with backoff; leases cover what was in flight.
                failures += 1
                wait = min(RECONNECT_MAX_S, 0.2 * 2**failures)
                logger.warning(
                    "relay of %s lost the database (%s); retrying in %.1f s", self.schema, exc, wait
                )
                await self._disconnect()
            except Exception:  # the relay must outlive a bug in one pass
                logger.exception("relay pass of %s failed", self.schema)
                wait = self.settings.poll_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    def start(self) -> None:
        """Start delivering in the background."""
        self._task = asyncio.create_task(self._loop(), name=f"{self.schema}-relay")

    async def stop(self) -> None:
        """Stop delivering and close connections (leases of a pass cut short run out by themselves)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._disconnect()
        await self.client.aclose()

    async def undelivered(self) -> int:
        """How many events are not yet routed plus deliveries still pending (0: all delivered or dead)."""
        pool = await self._connect()
        return int(await pool.fetchval(self.statements.undelivered))

    async def drain(self, *, timeout_s: float = 30.0) -> None:
        """Deliver until nothing is due (tests and commands); deliveries backing off are left for later."""
        async with asyncio.timeout(timeout_s):
            while await self.run_pass():
                pass


@asynccontextmanager
async def running_relay(
    *, dsn: str, schema: str, settings: EventSettings, routing: Routing | None = None
) -> AsyncIterator[Relay | None]:
    """A started relay for the lifespan of a process (None when this process runs none)."""
    if not settings.relay:
        yield None
        return
    relay = Relay(dsn=dsn, schema=schema, settings=settings, routing=routing)
    relay.start()
    try:
        yield relay
    finally:
        await relay.stop()
