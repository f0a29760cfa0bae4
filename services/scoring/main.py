"""The scoring service's ASGI application."""

from __future__ import annotations

from fastapi import FastAPI

from services.scoring.config import ScoringSettings, get_settings
from shared.app import create_service_app, database_lifespan


def create_app(settings: ScoringSettings | None = None) -> FastAPI:
    """Build the scoring app (from the environment's settings unless given)."""
    settings = settings or get_settings()
    return create_service_app(
        name="scoring",
        title="OCOP Scoring",
        description="Criteria versions, councils, dossiers, scorecards, star results and certificates.",
        settings=settings,
        routers=[],
        lifespan=database_lifespan("scoring", settings),
    )


app = create_app()
