"""Fixtures of the scoring tests: the registry out of reach."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from services.scoring.registry import RegistryClient

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
