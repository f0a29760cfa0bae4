"""The stamps service's ASGI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.stamps.anomalies import geography
from services.stamps.anomalies.router import router as anomalies_router
from services.stamps.anomalies.runner import AnomalyDetector
from services.stamps.batches.router import router as batches_router
from services.stamps.batches.runner import BatchJobs
from services.stamps.config import StampsSettings, get_settings
from services.stamps.epcis.errors import security_problem
from services.stamps.epcis.router import router as epcis_router
from services.stamps.epcis.runner import CaptureRunner
from services.stamps.inbox import INBOX
from services.stamps.lifecycle.router import changes_router
from services.stamps.lifecycle.router import router as lifecycle_router
from services.stamps.lifecycle.runner import ChangeJobs
from services.stamps.locations.router import router as locations_router
from services.stamps.outbox import OUTBOX
from services.stamps.printing.router import router as printing_router
from services.stamps.reports.router import router as reports_router
from services.stamps.snapshot import service as snapshot
from services.stamps.statistics.router import router as statistics_router
from services.stamps.traceability.router import router as traceability_router
from services.stamps.verification.router import answer_path
from services.stamps.verification.router import router as verification_router
from services.stamps.verification.scanlog import ScanLog
from shared.app import create_service_app, database_lifespan
from shared.body_limits import KIB
from shared.children import ChildProcess
from shared.db import asyncpg_dsn, create_read_pool
from shared.events.wiring import event_routers, service_relay
from shared.fastpath import FastPath
from shared.images import MAX_IMAGE_BYTES
from shared.security.dependencies import Forbidden, Unauthenticated

# Uploads the gateway lets through as well: a consumer report's photo (the cap of product images) in its form.
UPLOADS = (("POST /v1/counterfeit-reports", MAX_IMAGE_BYTES + 64 * KIB),)


def create_app(settings: StampsSettings | None = None) -> FastAPI:
    """Build the stamps app (from the environment's settings unless given)."""
    settings = settings or get_settings()
    database = database_lifespan("stamps", settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with database(app), service_relay(settings, OUTBOX) as relay:
            app.state.relay = relay
            if settings.events.relay:
                # Only where a relay can deliver it: an empty snapshot asks the registry and scoring.
                async with app.state.db.sessionmaker.begin() as session:
                    await snapshot.request_full_copy_if_empty(session)
            jobs = None
            if settings.batch_job_every_s > 0:
                jobs = BatchJobs(
                    lambda: app.state.db, asyncpg_dsn(settings.database_url.get_secret_value()),
                    every_s=settings.batch_job_every_s,
                )  # fmt: skip
                jobs.start()
            app.state.batch_jobs = jobs
            changes = None
            if settings.lifecycle_job_every_s > 0:
                changes = ChangeJobs(
                    lambda: app.state.db, every_s=settings.lifecycle_job_every_s, chunk=settings.lifecycle_chunk,
                    resolver_host=settings.resolver_host,
                )  # fmt: skip
                changes.start()
            app.state.lifecycle_jobs = changes
            # The scan log writes through connections of its own, one per batch in flight (the second
            # opened when two batches first fly at once).
            scans = await create_read_pool(
                settings.database_url.get_secret_value(), application_name="stamps-scans",
                min_size=1, max_size=settings.scan_batches_in_flight,
                statement_timeout_ms=settings.db_statement_timeout_ms,
            )  # fmt: skip
            scan_log = ScanLog(
                scans, device_key=settings.scan_hash_key.get_secret_value().encode(),
                max_batch=settings.scan_batch_max, salt_days=settings.scan_salt_days,
                partitions_ahead=settings.scan_partitions_ahead, province_at=geography.province_at,
                in_flight=settings.scan_batches_in_flight,
            )  # fmt: skip
            await scan_log.start()
            app.state.scan_log = scan_log
            detector: AnomalyDetector | ChildProcess | None = None
            if settings.anomaly_job_every_s > 0 and settings.anomaly_detector == "process":
                detector = ChildProcess(
                    "services.stamps.commands.detect_anomalies", name="anomaly detector",
                    environment=settings.child_environment(), nice=settings.anomaly_detector_nice,
                )  # fmt: skip
                await detector.start()
            elif settings.anomaly_job_every_s > 0:
                detector = AnomalyDetector(
                    lambda: app.state.db, settings.anomalies, every_s=settings.anomaly_job_every_s
                )
                detector.start()
            app.state.anomaly_detector = detector
            capture = None
            if settings.epcis_job_every_s > 0:
                capture = CaptureRunner(
                    lambda: app.state.db, settings.epcis, every_s=settings.epcis_job_every_s
                )
                capture.start()
            app.state.epcis_capture = capture
            try:
                yield
            finally:
                if capture is not None:
                    await capture.stop()
                if detector is not None:
                    await detector.stop()
                await scan_log.stop()
                await scans.close()
                if changes is not None:
                    await changes.stop()
                if jobs is not None:
                    await jobs.stop()

    app = create_service_app(
        name="stamps",
        title="OCOP Stamps",
        description="E-stamp batches and serials, GS1 Digital Link, verification, scan log and EPCIS 2.0.",
        settings=settings,
        routers=[
            # First: the resolver is the hottest path, and routes are matched in order.
            verification_router,
            batches_router,
            anomalies_router,
            lifecycle_router,
            changes_router,
            locations_router,
            printing_router,
            reports_router,
            statistics_router,
            traceability_router,
            epcis_router,
            *event_routers("stamps", inbox=INBOX, outbox=OUTBOX, settings=settings),
        ],
        lifespan=lifespan,
        # EPCIS documents are checked against their own cap (413 in EPCIS's problem shape); the guard
        # in front stops anything over twice that before it is read.
        large_bodies=[
            (r"POST /epcis/(capture|events)", 2 * settings.epcis.max_document_bytes),
            *UPLOADS,
        ],
        # The resolver's answers skip the framework's routing (shared/fastpath.py).
        inner_middleware=[
            (
                FastPath,
                {"prefixes": ("/01/", "/v/"), "answer": answer_path, "methods": frozenset({"GET", "HEAD"})},
            )
        ],
    )
    # The EPCIS interface's 401 and 403 in the REST binding's shape (epcisException:SecurityException).
    for security in (Unauthenticated, Forbidden):
        app.add_exception_handler(security, security_problem)
    return app


app = create_app()
