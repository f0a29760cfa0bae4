"""What a service adds to take part in integration events: two routers and a relay for its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter

from shared.config import BaseServiceSettings
from shared.db import asyncpg_dsn
from shared.events.admin import outbox_admin_router
from shared.events.inbox import Inbox
from shared.events.outbox import Outbox
from shared.events.relay import Relay, Routing, running_relay
from shared.events.router import events_router


def event_routers(
    service: str, *, inbox: Inbox, outbox: Outbox, settings: BaseServiceSettings
) -> list[APIRouter]:
    """``POST /internal/events`` (signed deliveries into the inbox) and ``/v1/outbox/<service>`` (admins)."""
    secrets = settings.events.secrets_by_source()
    return [
        events_router(
            inbox=lambda _: inbox, secrets=lambda _: secrets, window_s=settings.events.replay_window_s
        ),
        outbox_admin_router(service, lambda: outbox.tables, outbox.channel),
    ]


@asynccontextmanager
async def service_relay(
    settings: BaseServiceSettings, outbox: Outbox, routing: Routing | None = None
) -> AsyncIterator[Relay | None]:
    """The service's relay for the lifespan of its process (None when ``EVENTS__RELAY`` is off)."""
    async with running_relay(
        dsn=asyncpg_dsn(settings.database_url.get_secret_value()),
        schema=outbox.tables.schema,
        settings=settings.events,
        routing=routing,
    ) as relay:
        yield relay
