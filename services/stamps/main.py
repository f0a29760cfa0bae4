"""The stamps service's ASGI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.stamps.anomalies.router import router as anomalies_router
from services.stamps.anomalies.runner import AnomalyDetector
from services.stamps.batches.router import router as batches_router
from services.stamps.batches.runner import BatchJobs
from services.stamps.config import StampsSettings, get_settings
from services.stamps.inbox import INBOX
from services.stamps.outbox import OUTBOX
from shared.app import create_service_app, database_lifespan
from shared.db import asyncpg_dsn
from shared.events.wiring import event_routers, service_relay


def create_app(settings: StampsSettings | None = None) -> FastAPI:
    """Build the stamps app (from the environment's settings unless given)."""
    settings = settings or get_settings()
    database = database_lifespan("stamps", settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with database(app), service_relay(settings, OUTBOX) as relay:
            app.state.relay = relay
            jobs = None
            if settings.batch_job_every_s > 0:
                jobs = BatchJobs(
                    lambda: app.state.db, asyncpg_dsn(settings.database_url.get_secret_value()),
                    every_s=settings.batch_job_every_s,
                )  # fmt: skip
                jobs.start()
            app.state.batch_jobs = jobs
            detector = None
            if settings.anomaly_job_every_s > 0:
                detector = AnomalyDetector(
                    lambda: app.state.db, settings.anomalies, every_s=settings.anomaly_job_every_s
                )
                detector.start()
            app.state.anomaly_detector = detector
            try:
                yield
            finally:
                if detector is not None:
                    await detector.stop()
                if jobs is not None:
                    await jobs.stop()

    return create_service_app(
        name="stamps",
        title="OCOP Stamps",
        description="E-stamp batches and serials, GS1 Digital Link, verification, scan log and EPCIS 2.0.",
        settings=settings,
        routers=[
            batches_router,
            anomalies_router,
            *event_routers("stamps", inbox=INBOX, outbox=OUTBOX, settings=settings),
        ],
        lifespan=lifespan,
    )


app = create_app()
