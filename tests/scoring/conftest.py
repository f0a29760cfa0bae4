"""Fixtures of the scoring tests: a session in the test's transaction, the registry out of reach."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.registry import RegistryClient
from tests.support.isolation import Scope

# Nothing listens on the discard port: every call is refused at once.
CLOSED_PORT_URL = "http://127.0.0.1:9"


@pytest.fixture
def registry_down(scoring_client: httpx.AsyncClient) -> Callable[[], Any]:
    """``async with registry_down():`` the scoring app's registry client points at a closed port (same token)."""
    app = scoring_client._transport.app  # type: ignore[attr-defined]

    @contextlib.asynccontextmanager
    async def down() -> AsyncIterator[None]:
        working: RegistryClient = app.state.registry
        unreachable = RegistryClient(CLOSED_PORT_URL, working.identity, timeout_s=2.0)
        app.state.registry = unreachable
        try:
            yield
        finally:
            app.state.registry = working
            await unreachable.aclose()

    return down


@pytest.fixture
async def session(scope: Scope, scoring_client: httpx.AsyncClient) -> AsyncIterator[AsyncSession]:
    """A scoring session in the test's rolled-back transaction (the one the in-process app uses)."""
    assert scope.scoring is not None
    async with scope.scoring.sessionmaker() as opened:
        yield opened
