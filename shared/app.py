"""The FastAPI application factory every service and the gateway build on."""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from fastapi.telemetry import TelemetryConfig

from shared.body_limits import BodyLimits, RequestBodyGuard
from shared.config import BaseServiceSettings
from shared.db import Database, create_read_pool
from shared.docs import docs_router, mount_assets
from shared.errors import PROBLEM_MEDIA_TYPE, install_problem_handlers
from shared.health import ReadinessCheck, database_ready, health_router
from shared.heap import frozen_heap
from shared.logging import AccessLog, configure_logging
from shared.middleware import RequestIdMiddleware
from shared.schemas import Problem
from shared.security.dependencies import build_verifier
from shared.textguard import ControlCharacterGuard

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}

# Documented on every operation so clients (and schemathesis) know errors are problem+json.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"model": Problem, "description": "Validation error (problem+json naming each invalid field)"},
}


# Partners generate clients from the gateway's merged document: operation ids become their method names.
OPERATION_ID = re.compile(r"[a-z][a-z0-9_]*")


def operation_id(route: APIRoute) -> str:
    """An operation's id: its handler's name, resource first (``catalogue_search``, ``entities_create``).

    FastAPI's default (``search_catalogue_v1_catalogue_get``) changes with the path and the method, and
    reads badly as a method name; a handler's name changes only when someone renames it on purpose.
    """
    if not OPERATION_ID.fullmatch(route.name):
        raise ValueError(f"handler name {route.name!r} cannot be an operation id (lower_snake_case)")
    return route.name


def _document_errors_as_problems(app: FastAPI) -> None:
    """Make the OpenAPI document say what we send: every 4xx/5xx body is application/problem+json."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = generate()
        for path_item in document.get("paths", {}).values():
            for operation in path_item.values():
                for code, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if code[:1] in ("4", "5") and "application/json" in content:
                        content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def frozen_after_start(lifespan: Lifespan) -> Lifespan:
    """``lifespan``, after whose start every object alive so far is moved out of the collector's sight."""

    # FastAPI also takes a bare async generator function as a lifespan (no_lifespan is one).
    started = asynccontextmanager(lifespan) if inspect.isasyncgenfunction(lifespan) else lifespan

    @asynccontextmanager
    async def frozen(app: FastAPI) -> AsyncIterator[None]:
        async with started(app):
            # A full collection walks every object the collector tracks: after start-up (the imports,
            # the app, its pools) ~160,000 in the stamps service, 110–165 ms under load with every request
            # waiting — the verification bench's p99 was those pauses. Frozen, they are never walked again.
            # Stopped, its objects may be garbage (an app of a test, its pools): they are unfrozen.
            with frozen_heap():
                yield

    return frozen


def create_service_app(
    *,
    name: str,
    title: str,
    settings: BaseServiceSettings,
    routers: Sequence[APIRouter],
    lifespan: Lifespan,
    readiness: ReadinessCheck = database_ready,
    description: str = "",
    version: str = "1.0.0",
    inner_middleware: Sequence[tuple[Any, dict[str, Any]]] = (),
    large_bodies: Sequence[tuple[str, int]] = (),
    openapi_url: str | None = "/openapi.json",
) -> FastAPI:
    """Wire logging, request ids, problem+json errors, health checks and the given routers."""
    configure_logging(name, settings.log_level)
    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=frozen_after_start(lifespan),
        responses=PROBLEM_RESPONSES,
        openapi_url=openapi_url,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,
        # We configure no OpenTelemetry provider; left on, FastAPI looks for one on every request.
        telemetry=NO_TELEMETRY,
    )
    app.state.settings = settings
    app.state.token_verifier = build_verifier(settings)
    _document_errors_as_problems(app)
    install_problem_handlers(app)
    for middleware, options in inner_middleware:
        app.add_middleware(middleware, **options)
    app.add_middleware(ControlCharacterGuard)
    # Outside everything that reads a body: a body over its route's cap never reaches a handler or the proxy.
    limits = BodyLimits(settings.max_body_bytes, tuple(large_bodies), settings.body_read_timeout_s)
    app.add_middleware(RequestBodyGuard, limits=limits)
    # Added last, so it is the outermost: every response, even a proxied one, carries the id.
    access_log = settings.access_log and logging.getLogger("access").isEnabledFor(logging.INFO)
    app.add_middleware(RequestIdMiddleware, access_log=AccessLog(name) if access_log else None)
    app.include_router(health_router(readiness))
    mount_assets(app)
    if openapi_url is not None:
        app.include_router(docs_router(openapi_url, title))
    for router in routers:
        app.include_router(router)
    return app


async def no_lifespan(_: FastAPI) -> AsyncIterator[None]:
    """A lifespan that holds nothing (for tests and the bare baseline)."""
    yield


def database_lifespan(name: str, settings: BaseServiceSettings) -> Lifespan:
    """A lifespan that opens the service's database pools on start and closes them on stop."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database.connect(
            settings.database_url.get_secret_value(),
            application_name=name,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            statement_timeout_ms=settings.db_statement_timeout_ms,
        )
        app.state.db = database
        try:
            if settings.db_read_pool_size > 0:
                database.reads = await create_read_pool(
                    settings.database_url.get_secret_value(),
                    application_name=f"{name}-reads",
                    min_size=min(settings.db_read_pool_min_size, settings.db_read_pool_size),
                    max_size=settings.db_read_pool_size,
                    statement_timeout_ms=settings.db_statement_timeout_ms,
                )
            yield
        finally:
            await database.dispose()

    return lifespan
