"""The delivery client checks the address it connects to, when a destination asks (partner webhooks)."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from shared.http import DeliveryClient, UpstreamConnectError
from tests.support.processes import free_port


@pytest.fixture
async def local_server() -> AsyncIterator[str]:
    """A real HTTP server on a loopback port that answers 204 to any POST."""
    received: list[bytes] = []

    async def take(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", take)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://localhost:{port}/hook"
    finally:
        await runner.cleanup()


def public_only(host: str) -> bool:
    return ipaddress.ip_address(host).is_global


async def test_an_address_the_check_refuses_is_never_connected_to(local_server: str) -> None:
    """``localhost`` resolves to loopback at connect time: refused there, whatever a check before said."""
    client = DeliveryClient(timeout_s=5)
    try:
        with pytest.raises(UpstreamConnectError, match="refused: localhost resolves to no address"):
            await client.post(
                local_server, b"{}", {"Content-Type": "application/json"}, allow_address=public_only
            )
        allowed = await client.post(
            local_server,
            b"{}",
            {"Content-Type": "application/json"},
            allow_address=lambda host: host == "127.0.0.1",
        )
        assert allowed.status == 204
        # Without a check (the services inside the cluster), the same URL is delivered to as before.
        assert (await client.post(local_server, b"{}", {"Content-Type": "application/json"})).status == 204
    finally:
        await client.aclose()
