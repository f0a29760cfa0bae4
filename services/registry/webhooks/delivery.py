"""How the registry's relay reaches partner webhooks: their routes and destinations, one Extra of its Routing."""

from __future__ import annotations

from services.registry.config import RegistrySettings
from services.registry.webhooks import service
from shared.db import Database
from shared.events.relay import Destination, Extra


def webhook_routing(settings: RegistrySettings, database: Database) -> Extra:
    """Each webhook subscription whose patterns match an event's type, as a destination of the relay."""
    config = service.WebhookConfig.of(settings)

    async def destinations(name: str) -> Destination | None:
        # Read afresh for each delivery: a changed URL, a rotated secret or a deletion applies at once.
        async with database.sessionmaker() as session:
            return await service.destination(session, name=name, config=config)

    return Extra(service.webhook_routes, destinations)
