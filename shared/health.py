"""Liveness and readiness endpoints."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from shared.errors import problem_response

ReadinessCheck = Callable[[Request], Awaitable[dict[str, Any]]]

logger = logging.getLogger("shared.health")

READINESS_TIMEOUT_S = 2.0


async def database_ready(request: Request) -> dict[str, Any]:
    """Check the service's own database with a trivial query."""
    await request.app.state.db.ping()
    return {"database": "ok"}


def health_router(check: ReadinessCheck = database_ready) -> APIRouter:
    """``/healthz`` answers while the process runs; ``/readyz`` only when its dependencies answer."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        """The process is up and serving."""
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness",
        responses={503: {"description": "A dependency is not ready"}},
    )
    async def readyz(request: Request) -> Response:
        """Ready to take traffic: every dependency answered within the time limit."""
        try:
            async with asyncio.timeout(READINESS_TIMEOUT_S):
                checks = await check(request)
        except Exception as exc:
            logger.warning("not ready: %s", exc.__class__.__name__)
            return problem_response(
                503, "not-ready", "Service unavailable", f"Dependency check failed: {exc.__class__.__name__}"
            )
        if any(value != "ok" for value in checks.values()):
            return problem_response(503, "not-ready", "Service unavailable", checks=checks)
        return JSONResponse({"status": "ok", "checks": checks})

    return router
