"""Body caps per route and the gateway's caps agreeing with the registry's."""

from __future__ import annotations

import httpx

from gateway.routes import LARGE_BODIES as GATEWAY_LARGE_BODIES
from services.registry.main import LARGE_BODIES as REGISTRY_LARGE_BODIES
from services.stamps.main import UPLOADS as STAMPS_UPLOADS
from shared.body_limits import MIB, BodyLimits


def test_a_route_of_its_own_has_its_own_cap() -> None:
    limits = BodyLimits(MIB, (("POST /v1/products/[^/]+/images", 5 * MIB),))
    assert limits.cap_for("POST", "/v1/products/0b6f3c52/images") == 5 * MIB
    assert limits.cap_for("POST", "/v1/products") == MIB
    assert limits.cap_for("PUT", "/v1/products/0b6f3c52/images") == MIB
    assert limits.cap_for("POST", "/v1/products/a/b/images") == MIB


def test_the_edge_accepts_the_uploads_the_services_accept() -> None:
    assert dict(GATEWAY_LARGE_BODIES) == dict(REGISTRY_LARGE_BODIES) | dict(STAMPS_UPLOADS)


async def test_a_json_body_over_the_default_cap_is_413_in_the_service(
    registry_client: httpx.AsyncClient,
) -> None:
    response = await registry_client.post(
        "/v1/entities", content=b"[" + b"1," * MIB + b"1]", headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["max_bytes"] == MIB


async def test_a_download_outlasting_the_body_timeout_is_not_cut() -> None:
    import asyncio

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    from shared.body_limits import RequestBodyGuard

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(5):
            await asyncio.sleep(0.1)
            yield b"x" * 10

    async def download(_: Request) -> StreamingResponse:
        return StreamingResponse(chunks())

    async def upload(request: Request) -> StreamingResponse:
        await request.body()
        return StreamingResponse(chunks())

    app = Starlette(routes=[Route("/file", download), Route("/upload", upload, methods=["POST"])])
    guarded = RequestBodyGuard(app, BodyLimits(MIB, (), read_timeout_s=0.2))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guarded), base_url="http://t") as client:
        # Streaming responses listen on receive() for the client leaving, longer than the body timeout.
        assert (await client.get("/file")).content == b"x" * 50
        assert (await client.post("/upload", content=b"{}")).content == b"x" * 50
