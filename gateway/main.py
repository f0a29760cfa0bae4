"""The gateway's ASGI application: the proxy in front of the gateway's own routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from gateway.config import GatewaySettings, get_settings
from gateway.openapi import merged_openapi
from gateway.proxy import ProxyApp
from gateway.ratelimit import RateLimitMiddleware
from gateway.routes import LARGE_BODIES, upstream_for
from shared.app import create_service_app, database_lifespan
from shared.docs import docs_page
from shared.http import Upstream, UpstreamError, make_upstream
from shared.security.dependencies import build_verifier

UPSTREAM_READY_TIMEOUT_S = 1.5


async def _upstream_ready(upstream: Upstream) -> str:
    try:
        async with asyncio.timeout(UPSTREAM_READY_TIMEOUT_S):
            response = await upstream.send("GET", "/readyz", [], None)
            await response.aclose()
    except (UpstreamError, TimeoutError):
        return "unreachable"
    return "ok" if response.status == 200 else f"status {response.status}"


def _docs_router(upstreams: dict[str, Upstream]) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/openapi.json")
    async def openapi(request: Request) -> JSONResponse:
        """The merged OpenAPI document of the platform."""
        return JSONResponse(await merged_openapi(request.app, upstreams, upstream_for))

    @router.get("/docs")
    async def docs() -> HTMLResponse:
        """Interactive documentation of the merged API."""
        return docs_page("/openapi.json", "OCOP platform API")

    return router


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    """Build the gateway with one pooled upstream client per service."""
    settings = settings or get_settings()
    upstreams: dict[str, Upstream] = {
        name: make_upstream(
            url,
            kind=settings.upstream_client,
            timeouts=settings.timeouts(),
            max_connections=settings.upstream_max_connections,
        )
        for name, url in settings.upstream_urls().items()
    }
    database = database_lifespan("gateway", settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with database(app):
            try:
                yield
            finally:
                await asyncio.gather(*(upstream.aclose() for upstream in upstreams.values()))

    async def readiness(request: Request) -> dict[str, Any]:
        states = await asyncio.gather(*(_upstream_ready(upstream) for upstream in upstreams.values()))
        checks: dict[str, Any] = dict(zip(upstreams, states, strict=True))
        try:
            await request.app.state.db.ping()
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = exc.__class__.__name__
        return checks

    return create_service_app(
        name="gateway",
        title="OCOP platform",
        description="The OCOP platform's public API: one namespace routed to the registry, scoring and stamps.",
        settings=settings,
        routers=[_docs_router(upstreams)],
        lifespan=lifespan,
        readiness=readiness,
        # Listed inside out: the rate limit answers before the proxy forwards anything.
        inner_middleware=[
            (ProxyApp, {"upstreams": upstreams}),
            *(
                [
                    (
                        RateLimitMiddleware,
                        {"limits": settings.rate_limits(), "verifier": build_verifier(settings)},
                    )
                ]
                if settings.rate_limits_enabled
                else []
            ),
        ],
        openapi_url=None,
        large_bodies=LARGE_BODIES,
    )


app = create_app()
