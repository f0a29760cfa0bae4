"""Fixtures of the stamps tests: the service on the test's own database, and a real headless Chromium for the
pages a consumer's phone shows."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, async_playwright

from tests.conftest import asgi_client, stamps_app
from tests.support.database import TestDatabase

# Debian's chromium (make install-dev installs it as root); Playwright's own browser is never downloaded.
CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium calls Google's hosts at start; the machine has no network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")


@pytest.fixture
async def stamps(database: TestDatabase) -> AsyncIterator[httpx.AsyncClient]:
    """The stamps service in-process on the test's own database (tests marked ``commits``): an app of the
    test's own, so its scan log and pools start and stop with it; batches of at most 5,000 stamps."""
    async for client in asgi_client(stamps_app(database, max_batch=5_000)):
        yield client


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium: without it the browser tests fail (never skip), saying how to install it."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: make install-dev installs it as root (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    """One headless Chromium for the worker's browser tests."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), headless=True, chromium_sandbox=False, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()
