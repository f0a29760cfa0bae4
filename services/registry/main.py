"""The registry service's ASGI application."""

from __future__ import annotations

from fastapi import FastAPI

from services.registry.config import RegistrySettings, get_settings
from services.registry.products.router import router as products_router
from shared.app import create_service_app, database_lifespan


def create_app(settings: RegistrySettings | None = None) -> FastAPI:
    """Build the registry app (from the environment's settings unless given)."""
    settings = settings or get_settings()
    return create_service_app(
        name="registry",
        title="OCOP Registry",
        description="Administrative units, OCOP entities, products, the OCOP cycle and the catalogue.",
        settings=settings,
        routers=[products_router],
        lifespan=database_lifespan("registry", settings),
    )


app = create_app()
