"""Every SQL statement of webhook subscriptions, and the relay's reads of them (asyncpg)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg
from sqlalchemy import delete, select, true

from services.registry.db import outbox
from services.registry.webhooks.models import WebhookSubscription
from shared.events.repository import DeliveryRepository, DeliveryRow
from shared.pagination import KeysetPage
from shared.repository import Repository

# What the relay routes by: every subscription's id and patterns (one statement per routing pass).
ROUTES = "SELECT id, event_types FROM registry.webhook_subscription"


def destination_name(subscription_id: uuid.UUID) -> str:
    """The relay's name of a subscription's destination (outbox_delivery.destination)."""
    return f"webhook:{subscription_id}"


class WebhookRepository(Repository[WebhookSubscription]):
    """Reads and writes subscriptions within the caller's transaction."""

    model = WebhookSubscription

    async def page(
        self, *, partner_id: str | None, everyone: bool, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> KeysetPage[WebhookSubscription]:
        """A page of subscriptions, newest first: everyone's, or one partner's (no partner: none)."""
        query = select(WebhookSubscription)
        if not everyone:
            query = query.where(
                WebhookSubscription.partner_id == partner_id if partner_id is not None else ~true()
            )
        return await self.paginate(
            query, keys=(WebhookSubscription.created_at, WebhookSubscription.id), after=after, limit=limit,
            descending=True,
        )  # fmt: skip

    async def remove(self, subscription: WebhookSubscription) -> None:
        """Delete a subscription with its deliveries (pending ones are never attempted)."""
        delivery = outbox.delivery
        await self.session.execute(
            delete(delivery).where(delivery.c.destination == destination_name(subscription.id))
        )
        await self.session.delete(subscription)
        await self.session.flush()

    async def deliveries(
        self, subscription_id: uuid.UUID, *, status: str | None, after: tuple[int, str] | None, limit: int
    ) -> list[DeliveryRow]:
        """The subscription's deliveries joined with their events, newest first (the kit's own query)."""
        return await DeliveryRepository(self.session, outbox).list(
            destination_prefix=destination_name(subscription_id), status=status, after=after, limit=limit
        )


async def routes(connection: asyncpg.Connection) -> Sequence[tuple[uuid.UUID, Sequence[str]]]:
    """Every subscription's id and event patterns, on the relay's connection."""
    return [(row["id"], row["event_types"]) for row in await connection.fetch(ROUTES)]
