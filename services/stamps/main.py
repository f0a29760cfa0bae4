"""The stamps service's ASGI application."""

from __future__ import annotations

from fastapi import FastAPI

from services.stamps.config import StampsSettings, get_settings
from shared.app import create_service_app, database_lifespan


def create_app(settings: StampsSettings | None = None) -> FastAPI:
    """Build the stamps app (from the environment's settings unless given)."""
    settings = settings or get_settings()
    return create_service_app(
        name="stamps",
        title="OCOP Stamps",
        description="E-stamp batches and serials, GS1 Digital Link, verification, scan log and EPCIS 2.0.",
        settings=settings,
        routers=[],
        lifespan=database_lifespan("stamps", settings),
    )


app = create_app()
