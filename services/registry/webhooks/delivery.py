"""How the registry's relay reaches partner webhooks: its Routing, with webhook routes and destinations."""

from __future__ import annotations

from services.registry.config import RegistrySettings
from services.registry.webhooks import service
from shared.db import Database
from shared.events.relay import Destination, Routing


def webhook_routing(settings: RegistrySettings, database: Database) -> Routing:
    """The configured subscribers plus each webhook subscription whose patterns match an event's type."""
    config = service.WebhookConfig.of(settings)

    async def destinations(name: str) -> Destination | None:
        # Read afresh for each delivery: a changed URL, a rotated secret or a deletion applies at once.
        async with database.sessionmaker() as session:
            return await service.destination(session, name=name, config=config)

    return Routing(
        settings.events.subscribers, extra_routes=service.webhook_routes, extra_destinations=destinations
    )
