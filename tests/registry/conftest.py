"""Registry fixtures: an entity of its own, with its producer and officers, for one test."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from tests import builders


@pytest.fixture
async def producer(registry_client: httpx.AsyncClient, db: asyncpg.Connection) -> builders.Producer:
    """An entity in a new unit, registered by the unit's commune officer."""
    return await builders.producer(registry_client, db)
