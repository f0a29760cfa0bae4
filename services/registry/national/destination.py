"""The ``national`` destination of the registry's relay: routed only when the national URL is configured."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import asyncpg

from services.registry.config import RegistrySettings
from services.registry.national.render import CHANGES, render
from shared.events.relay import Destination, Extra

NAME = "national"


def national_destination(settings: RegistrySettings) -> Destination | None:
    """Where and how the national system receives (None: no national URL configured)."""
    if not settings.national_url:
        return None
    return Destination(
        name=NAME,
        url=settings.national_url,
        secret=settings.national_secret.get_secret_value(),
        render=render,
        headers={"Authorization": f"Bearer {settings.national_token.get_secret_value()}"},
        timeout_s=settings.national_timeout_s,
    )


def national_extra(settings: RegistrySettings) -> Extra | None:
    """The relay's extra routes and destination for the national system (None: not configured)."""
    destination = national_destination(settings)
    if destination is None:
        return None

    async def routes(_connection: asyncpg.Connection, types: Sequence[str]) -> Mapping[str, Sequence[str]]:
        return {event_type: [NAME] for event_type in types if event_type in CHANGES}

    async def resolve(name: str) -> Destination | None:
        return destination if name == NAME else None

    return Extra(routes=routes, destinations=resolve)
