"""The scoring service's ASGI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from services.scoring.applications import service as applications_service
from services.scoring.applications.router import router as applications_router
from services.scoring.audit.router import router as audit_router
from services.scoring.certificates.router import router as certificates_router
from services.scoring.certificates.runner import CertificateJobs
from services.scoring.config import ScoringSettings, get_settings
from services.scoring.councils.router import councils_router, rounds_router
from services.scoring.criteria.router import routers as criteria_routers
from services.scoring.inbox import INBOX
from services.scoring.outbox import OUTBOX
from services.scoring.registry import RegistryClient
from services.scoring.stats.router import certificates_stats_router, results_stats_router
from shared.app import create_service_app, database_lifespan
from shared.events.wiring import event_routers, service_relay
from shared.security.jwt import TokenSigner
from shared.security.service_tokens import ServiceIdentity

# Attachments are larger than the default body cap (with room for the multipart envelope).
LARGE_BODIES = (
    ("POST /v1/applications/[^/]+/attachments", applications_service.MAX_ATTACHMENT_BYTES + 64 * 1024),
)


def service_identity(settings: ScoringSettings) -> ServiceIdentity | None:
    """This service's identity towards the registry, when it holds a signing key."""
    key = settings.service_signing_key.get_secret_value()
    if not key:
        return None
    signer = TokenSigner(key, kid=settings.service_key_id, issuer=settings.jwt_issuer)
    return ServiceIdentity(signer, name="scoring", audience=settings.jwt_audience)


def create_app(settings: ScoringSettings | None = None, *, registry_transport: Any = None) -> FastAPI:
    """Build the scoring app (from the environment's settings unless given).

    ``registry_transport`` replaces the network to the registry (tests serve it in-process).
    """
    settings = settings or get_settings()
    database = database_lifespan("scoring", settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.registry = RegistryClient(
            settings.registry_url, service_identity(settings),
            timeout_s=settings.registry_timeout_s, transport=registry_transport,
        )  # fmt: skip
        try:
            async with database(app):
                jobs = None
                if settings.certificate_job_every_s > 0:
                    jobs = CertificateJobs(lambda: app.state.db, every_s=settings.certificate_job_every_s)
                    jobs.start()
                app.state.certificate_jobs = jobs
                try:
                    async with service_relay(settings, OUTBOX) as relay:
                        app.state.relay = relay
                        yield
                finally:
                    if jobs is not None:
                        await jobs.stop()
        finally:
            await app.state.registry.aclose()

    return create_service_app(
        name="scoring",
        title="OCOP Scoring",
        description="Criteria versions, councils, dossiers, scorecards, star results and certificates.",
        settings=settings,
        routers=[
            *criteria_routers,
            councils_router,
            rounds_router,
            applications_router,
            results_stats_router,
            # Before the certificates' routes: "/v1/certificates/{certificate_id}" would take "stats".
            certificates_stats_router,
            certificates_router,
            audit_router,
            *event_routers("scoring", inbox=INBOX, outbox=OUTBOX, settings=settings),
        ],
        large_bodies=LARGE_BODIES,
        lifespan=lifespan,
    )


app = create_app()
