"""Settings of the stamps service (environment prefix `STAMPS_`)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import BaseServiceSettings


class StampsSettings(BaseServiceSettings):
    """The stamps service's settings."""

    model_config = SettingsConfigDict(env_prefix="STAMPS_", extra="ignore", frozen=True)

    # The most stamps one batch may ask for.
    max_batch: int = Field(default=1_000_000, ge=1)
    # How often the generation job looks for approved batches (an approval also wakes it; 0: not here).
    batch_job_every_s: float = 30.0
    # The resolver's host: every printed Digital Link is HTTPS://<host>/01/..., and the label shows it.
    resolver_host: str = Field(default="tem.ocop.example.vn", pattern=r"^[A-Za-z0-9.-]+$")


@lru_cache
def get_settings() -> StampsSettings:
    """The settings, read once from the environment."""
    return StampsSettings()
