"""The registry service's ASGI application."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from services.registry.admin_units.router import router as admin_units_router
from services.registry.catalogue.router import RECORD_PREFIX, answer_public_record
from services.registry.catalogue.router import router as catalogue_router
from services.registry.changes.router import router as changes_router
from services.registry.config import RegistrySettings, get_settings
from services.registry.cycle.router import ideas_router, plans_router
from services.registry.entities.router import router as entities_router
from services.registry.imports import runner as import_runner
from services.registry.imports import service as imports_service
from services.registry.imports.router import router as imports_router
from services.registry.inbox import INBOX
from services.registry.national.destination import national_extra
from services.registry.outbox import OUTBOX
from services.registry.products import service as product_service
from services.registry.products.router import router as products_router
from services.registry.stats.router import router as stats_router
from services.registry.webhooks.delivery import webhook_routing
from services.registry.webhooks.router import router as webhooks_router
from shared.app import create_service_app, database_lifespan
from shared.body_limits import KIB, MIB
from shared.events.relay import Routing
from shared.events.wiring import event_routers, service_relay
from shared.fastpath import FastPath

# Uploads may be larger than JSON bodies: their own caps plus room for the multipart envelope.
LARGE_BODIES = (
    ("POST /v1/imports", imports_service.MAX_UPLOAD_BYTES + MIB),
    ("POST /v1/products/[^/]+/images", product_service.MAX_IMAGE_BYTES + 64 * KIB),
)


def create_app(settings: RegistrySettings | None = None) -> FastAPI:
    """Build the registry app (from the environment's settings unless given)."""
    settings = settings or get_settings()
    database = database_lifespan("registry", settings)
    # Beyond the configured subscribers, the relay delivers to partner webhooks and (when its URL is set)
    # the national system: each part adds its destinations as one Extra.

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with database(app):
            stalled_after = timedelta(seconds=settings.import_stalled_after_s)
            async with app.state.db.sessionmaker.begin() as session:
                await import_runner.fail_interrupted_jobs(session, stalled_after)
            watcher = asyncio.create_task(
                import_runner.watch_stalled_jobs(
                    app.state.db, every_s=settings.import_stall_check_s, stalled_after=stalled_after
                )
            )
            try:
                routing = Routing.compose(
                    settings.events.subscribers,
                    webhook_routing(settings, app.state.db),
                    national_extra(settings),
                )
                async with service_relay(settings, OUTBOX, routing) as relay:
                    app.state.relay = relay
                    yield
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher

    return create_service_app(
        name="registry",
        title="OCOP Registry",
        description="Administrative units, OCOP entities, products, the OCOP cycle and the catalogue.",
        settings=settings,
        routers=[
            # Routes are matched in order: the public reads, the busiest, first.
            catalogue_router,
            admin_units_router,
            entities_router,
            products_router,
            imports_router,
            ideas_router,
            plans_router,
            changes_router,
            stats_router,
            webhooks_router,
            *event_routers("registry", inbox=INBOX, outbox=OUTBOX, settings=settings),
        ],
        lifespan=lifespan,
        large_bodies=LARGE_BODIES,
        # The public record, the busiest read, skips the framework's routing (shared/fastpath.py).
        inner_middleware=[(FastPath, {"prefixes": (RECORD_PREFIX,), "answer": answer_public_record})],
    )


app = create_app()
