"""The consumer's side: record each event id with its effect, in one transaction, so a duplicate does nothing."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from typing import Literal, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.events.envelope import Envelope
from shared.events.repository import record_inbox

logger = logging.getLogger("shared.events.inbox")


class Handler(Protocol):
    """A service function that applies an event: ``await handler(session, envelope=envelope)``."""

    def __call__(self, session: AsyncSession, *, envelope: Envelope) -> Awaitable[None]: ...


Consumed = Literal["applied", "ignored", "duplicate"]


class Inbox:
    """One service's inbox table and its handlers by event type."""

    def __init__(self, table: sa.Table, handlers: Mapping[str, Handler]) -> None:
        self.table = table
        self.handlers = dict(handlers)

    async def consume(self, session: AsyncSession, envelope: Envelope) -> Consumed:
        """Apply the event once: its id is claimed in the same transaction as the handler's effect.

        A concurrent duplicate waits on the claim's primary key and then finds it taken; an event whose
        handler fails rolls back with its claim, so the redelivery applies it.
        """
        handler = self.handlers.get(envelope.type)
        outcome = "applied" if handler is not None else "ignored"
        if not await record_inbox(session, self.table, envelope, outcome=outcome):
            return "duplicate"
        if handler is None:
            logger.info(
                "ignored event %s of unknown type %s from %s", envelope.id, envelope.type, envelope.source
            )
            return "ignored"
        await handler(session, envelope=envelope)
        return "applied"
