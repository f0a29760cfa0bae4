"""Every SQL statement on the outbox and inbox tables: the relay's (asyncpg) and the admin's (a session)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.envelope import Envelope
from shared.events.tables import OutboxTables


@dataclass(frozen=True)
class Claimed:
    """A delivery the relay holds a lease on, with its event."""

    event_id: uuid.UUID
    destination: str
    attempts: int
    envelope: Envelope


@dataclass(frozen=True)
class Outcome:
    """What one delivery attempt came to."""

    event_id: uuid.UUID
    destination: str
    status: int | None
    error: str | None
    retry_in_s: float  # ignored when delivered


# The relay's statements touch a few rows of tables that keep weeks of history, and the planner, working
# from statistics that lag the outbox's churn (a backlog routed, then delivered, within a minute), would
# otherwise hash-join or sort whole tables on every pass: measured, a pass cost O(all rows ever kept).
# Within the relay's own transactions it walks the partial indexes instead: ``due`` in index order,
# probing each row's subject, stopping at the batch's size.
PREFER_INDEXES = (
    "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off; "
    "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; SET LOCAL plan_cache_mode = force_custom_plan"
)


class RelayStatements:
    """The relay's statements for one schema, sent over asyncpg (the hot path: no ORM, one round trip each)."""

    def __init__(self, schema: str) -> None:
        event, delivery = f'"{schema}".outbox_event', f'"{schema}".outbox_delivery'
        # Only the head of each destination's subject is due: later events of the subject wait for it,
        # which keeps per-subject order even across replicas (a head leased elsewhere is still pending).
        self.claim = f"""
            WITH due AS (
                SELECT d.event_id, d.destination FROM {delivery} d
                WHERE d.status = 'pending' AND d.next_attempt_at <= now()
                  AND (d.leased_until IS NULL OR d.leased_until < now())
                  AND NOT EXISTS (
                      SELECT 1 FROM {delivery} earlier
                      WHERE earlier.status = 'pending' AND earlier.destination = d.destination
                        AND earlier.subject = d.subject AND earlier.seq < d.seq)
                ORDER BY d.next_attempt_at, d.seq
                LIMIT $1
                FOR UPDATE OF d SKIP LOCKED
            ), leased AS (
                UPDATE {delivery} d SET leased_until = now() + make_interval(secs => $2)
                FROM due WHERE d.event_id = due.event_id AND d.destination = due.destination
                RETURNING d.event_id, d.destination, d.attempts, d.seq
            )
            SELECT l.event_id, l.destination, l.attempts, e.type, e.source, e.subject, e.occurred_at,
                   e.data::text AS data, e.request_id, l.seq
            FROM leased l JOIN {event} e ON e.id = l.event_id
        """
        # One router at a time (a transaction-level advisory lock), so deliveries appear in commit order.
        self.route_lock = "SELECT pg_try_advisory_xact_lock(hashtext($1))"
        self.route = f"""
            WITH fresh AS (
                SELECT id FROM {event} WHERE routed_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE
            )
            UPDATE {event} e SET routed_at = now() FROM fresh WHERE e.id = fresh.id
            RETURNING e.id, e.seq, e.type, e.subject
        """
        self.add_deliveries = f"""
            INSERT INTO {delivery} (event_id, destination, seq, subject)
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[])
            ON CONFLICT DO NOTHING
        """
        self.lock_name = f"{schema}.outbox.route"
        self.undelivered = f"""
            SELECT (SELECT count(*) FROM {event} WHERE routed_at IS NULL)
                 + (SELECT count(*) FROM {delivery} WHERE status = 'pending')
        """
        self.delivered = f"""
            UPDATE {delivery} d SET status = 'delivered', delivered_at = now(), last_attempt_at = now(),
                   attempts = d.attempts + 1, leased_until = NULL, last_status = o.status, last_error = NULL
            FROM unnest($1::uuid[], $2::text[], $3::int[]) AS o(event_id, destination, status)
            WHERE d.event_id = o.event_id AND d.destination = o.destination AND d.status = 'pending'
        """
        self.failed = f"""
            UPDATE {delivery} d SET attempts = d.attempts + 1, leased_until = NULL, last_attempt_at = now(),
                   last_status = o.status, last_error = o.error,
                   next_attempt_at = now() + make_interval(secs => o.retry_in),
                   status = CASE WHEN d.attempts + 1 >= $6 THEN 'dead' ELSE 'pending' END
            FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::float8[])
                 AS o(event_id, destination, status, error, retry_in)
            WHERE d.event_id = o.event_id AND d.destination = o.destination AND d.status = 'pending'
        """
        # When the next claim can find something: the earliest head that is neither backing off nor leased
        # (rows behind a head are not due before it, whatever their own next_attempt_at says).
        self.next_due = f"""
            SELECT EXTRACT(EPOCH FROM min(GREATEST(d.next_attempt_at, d.leased_until)) - now())::float8
            FROM {delivery} d
            WHERE d.status = 'pending' AND NOT EXISTS (
                SELECT 1 FROM {delivery} earlier
                WHERE earlier.status = 'pending' AND earlier.destination = d.destination
                  AND earlier.subject = d.subject AND earlier.seq < d.seq)
        """
        self.prune = f"""
            DELETE FROM {event} e WHERE e.occurred_at < now() - make_interval(days => $1)
              AND NOT EXISTS (SELECT 1 FROM {delivery} d WHERE d.event_id = e.id AND d.status <> 'delivered')
        """


RouteFor = Callable[[asyncpg.Connection, Sequence[str]], Awaitable[Mapping[str, Sequence[str]]]]


async def route(connection: asyncpg.Connection, statements: RelayStatements, *, limit: int,
                destinations_for: RouteFor) -> int:  # fmt: skip
    """Write the deliveries of up to ``limit`` new events (unless another relay is at it); how many events."""
    async with connection.transaction():
        await connection.execute(PREFER_INDEXES)
        if not await connection.fetchval(statements.route_lock, statements.lock_name):
            return 0
        events = await connection.fetch(statements.route, limit)
        if not events:
            return 0
        names = await destinations_for(connection, sorted({row["type"] for row in events}))
        rows = [
            (row["id"], name, row["seq"], row["subject"])
            for row in events
            for name in names.get(row["type"], ())
        ]
        if rows:
            await connection.execute(statements.add_deliveries, *map(list, zip(*rows, strict=True)))
        return len(events)


async def claim(connection: asyncpg.Connection, statements: RelayStatements, *, limit: int,
                lease_s: float) -> list[Claimed]:  # fmt: skip
    """Lease up to ``limit`` due deliveries (heads of their subjects), the longest due first."""
    async with connection.transaction():
        await connection.execute(PREFER_INDEXES)
        rows = await connection.fetch(statements.claim, limit, lease_s)
    rows.sort(key=lambda row: row["seq"])
    return [
        Claimed(
            row["event_id"], row["destination"], row["attempts"],
            Envelope.model_construct(
                id=row["event_id"], type=row["type"], occurred_at=row["occurred_at"], source=row["source"],
                subject=row["subject"], data=_json(row["data"]), request_id=row["request_id"],
            ),
        )
        for row in rows
    ]  # fmt: skip


def _json(text: str) -> Any:
    return orjson.loads(text)


async def record(
    connection: asyncpg.Connection, statements: RelayStatements, outcomes: list[Outcome], *, max_attempts: int
) -> None:
    """Mark delivered outcomes done and failed ones for a later attempt (or dead after the last)."""
    delivered = [outcome for outcome in outcomes if outcome.error is None]
    failed = [outcome for outcome in outcomes if outcome.error is not None]
    async with connection.transaction():
        await connection.execute(PREFER_INDEXES)
        if delivered:
            await connection.execute(
                statements.delivered,
                [o.event_id for o in delivered], [o.destination for o in delivered], [o.status for o in delivered],
            )  # fmt: skip
        if failed:
            await connection.execute(
                statements.failed,
                [o.event_id for o in failed], [o.destination for o in failed], [o.status for o in failed],
                [o.error for o in failed], [o.retry_in_s for o in failed], max_attempts,
            )  # fmt: skip


async def seconds_to_next_due(connection: asyncpg.Connection, statements: RelayStatements) -> float | None:
    """Seconds until a claim can find a delivery (0 when one is due now); None when nothing is pending."""
    async with connection.transaction():
        await connection.execute(PREFER_INDEXES)
        wait = await connection.fetchval(statements.next_due)
    return None if wait is None else max(0.0, float(wait))


async def prune(connection: asyncpg.Connection, statements: RelayStatements, *, retention_days: int) -> int:
    """Delete events delivered everywhere longer than ``retention_days`` ago; how many went."""
    result = await connection.execute(statements.prune, retention_days)
    return int(result.split()[-1])


@dataclass(frozen=True)
class DeliveryRow:
    """A delivery as an administrator or a partner reads it."""

    event_id: uuid.UUID
    destination: str
    type: str
    subject: str
    occurred_at: datetime
    status: str
    attempts: int
    last_status: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    seq: int


class DeliveryRepository:
    """Reads and replays of deliveries, in a request's session."""

    def __init__(self, session: AsyncSession, tables: OutboxTables) -> None:
        self.session = session
        self.tables = tables

    async def list(
        self,
        *,
        destination_prefix: str | None,
        status: str | None,
        after: tuple[int, str] | None,
        limit: int,
        subject: str | None = None,
    ) -> list[DeliveryRow]:
        """Deliveries, newest first, optionally of one status and of destinations starting with a prefix."""
        event, delivery = self.tables.event, self.tables.delivery
        query = select(
            delivery.c.event_id, delivery.c.destination, event.c.type, event.c.subject, event.c.occurred_at,
            delivery.c.status, delivery.c.attempts, delivery.c.last_status, delivery.c.last_error,
            delivery.c.last_attempt_at, delivery.c.delivered_at, delivery.c.seq,
        ).join(event, event.c.id == delivery.c.event_id)  # fmt: skip
        if status is not None:
            query = query.where(delivery.c.status == status)
        if destination_prefix is not None:
            query = query.where(delivery.c.destination.startswith(destination_prefix, autoescape=True))
        if subject is not None:
            query = query.where(delivery.c.subject == subject)
        if after is not None:
            seq, destination = after
            query = query.where(
                or_(delivery.c.seq < seq, and_(delivery.c.seq == seq, delivery.c.destination > destination))
            )
        query = query.order_by(delivery.c.seq.desc(), delivery.c.destination).limit(limit)
        return [DeliveryRow(**row._asdict()) for row in (await self.session.execute(query)).all()]

    async def replay_dead(self, *, event_id: uuid.UUID | None, destination: str | None) -> int:
        """Put dead deliveries (all, or one event's, or one destination's) back in line; how many."""
        delivery = self.tables.delivery
        conditions = [delivery.c.status == "dead"]
        if event_id is not None:
            conditions.append(delivery.c.event_id == event_id)
        if destination is not None:
            conditions.append(delivery.c.destination == destination)
        result = await self.session.execute(
            update(delivery).where(and_(*conditions))
            .values(status="pending", attempts=0, next_attempt_at=func.now(), leased_until=None)
        )  # fmt: skip
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def notify(self, channel: str) -> None:
        """Wake the relays (at commit)."""
        await self.session.execute(select(func.pg_notify(channel, "")))

    async def counts(self) -> dict[str, int]:
        """How many deliveries are in each status."""
        delivery = self.tables.delivery
        rows = await self.session.execute(select(delivery.c.status, func.count()).group_by(delivery.c.status))
        return {str(status): int(count) for status, count in rows.all()}


async def record_inbox(session: AsyncSession, table: Any, envelope: Envelope, *, outcome: str) -> bool:
    """Record a received event by its id; False when it was already recorded (a duplicate)."""
    inserted = await session.execute(
        insert(table)
        .values(
            id=envelope.id,
            type=envelope.type,
            source=envelope.source,
            subject=envelope.subject,
            outcome=outcome,
        )
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(table.c.id)
    )
    return inserted.first() is not None
