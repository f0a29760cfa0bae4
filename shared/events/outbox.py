"""Emitting an event: an outbox row written in the caller's transaction.

The event exists exactly when the change it reports commits; ``pg_notify`` (sent at commit) wakes the
relay. Who receives it is not decided here but by the relay's configuration, so adding a consumer
changes no producer code.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock
from shared.events.envelope import Envelope
from shared.events.tables import OutboxTables
from shared.request_id import current_request_id

# Checks every emitted envelope goes through before it is written (the tests validate each against its
# JSON Schema in docs/EVENTS.md); empty in a running service.
_CHECKS: list[Callable[[Envelope], None]] = []


def check_every_event(check: Callable[[Envelope], None]) -> None:
    """Run ``check`` on every envelope any outbox emits from now on in this process (it raises to refuse)."""
    _CHECKS.append(check)


def channel(schema: str) -> str:
    """The NOTIFY channel of a schema's outbox."""
    return f"{schema}_outbox"


class Outbox:
    """One service's outbox: ``emit`` inside the transaction that makes the change."""

    def __init__(self, tables: OutboxTables, *, source: str) -> None:
        self.tables = tables
        self.source = source
        self.channel = channel(tables.schema)

    def envelope(
        self, *, type: str, subject: str, data: dict[str, Any], request_id: str | None = None
    ) -> Envelope:
        """A new event of this service, occurring now."""
        return Envelope(
            id=uuid.uuid4(), type=type, occurred_at=clock.now(), source=self.source, subject=subject,
            data=data, request_id=request_id or current_request_id() or None,
        )  # fmt: skip

    async def emit(
        self,
        session: AsyncSession,
        *,
        type: str,
        subject: str,
        data: dict[str, Any],
        request_id: str | None = None,
    ) -> Envelope:
        """Record an event in ``session``'s transaction; it exists (and is delivered) once that commits."""
        envelope = self.envelope(type=type, subject=subject, data=data, request_id=request_id)
        await self.emit_many(session, [envelope])
        return envelope

    async def emit_many(self, session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
        """Record several events at once (imports, bulk changes), in order."""
        if not envelopes:
            return
        for check in _CHECKS:
            for envelope in envelopes:
                check(envelope)
        rows = [envelope.model_dump(mode="python") for envelope in envelopes]
        # RETURNING makes SQLAlchemy send multi-row VALUES (one statement per 1,000 events), not a
        # statement per event, as in shared.repository's insert_rows.
        await session.execute(insert(self.tables.event).returning(self.tables.event.c.id), rows)
        await session.execute(select(func.pg_notify(self.channel, "")))

    async def emitted_since(self, session: AsyncSession, *, type: str, since: datetime) -> bool:
        """Whether an event of ``type`` has been emitted since ``since`` (kept events only: old ones are pruned)."""
        event = self.tables.event
        query = select(event.c.id).where(event.c.type == type, event.c.occurred_at >= since).limit(1)
        return (await session.execute(query)).first() is not None

    async def emit_many_to(
        self, session: AsyncSession, envelopes: Sequence[Envelope], destination: str
    ) -> None:
        """Record events for one subscriber only (an answer to its request), bypassing the routing.

        The events are written already routed, with a delivery to ``destination`` each: the relay
        delivers them like any other, in order per subject, and no other subscriber receives them.
        """
        if not envelopes:
            return
        for check in _CHECKS:
            for envelope in envelopes:
                check(envelope)
        event, delivery = self.tables.event, self.tables.delivery
        rows = [{**envelope.model_dump(mode="python"), "routed_at": clock.now()} for envelope in envelopes]
        written = await session.execute(
            insert(event).returning(event.c.id, event.c.seq, event.c.subject), rows
        )
        deliveries = [
            {"event_id": row.id, "destination": destination, "seq": row.seq, "subject": row.subject}
            for row in written
        ]
        await session.execute(insert(delivery), deliveries)
        await session.execute(select(func.pg_notify(self.channel, "")))
