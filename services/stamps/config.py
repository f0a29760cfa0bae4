"""Settings of the stamps service (environment prefix `STAMPS_`)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict

from shared.config import BaseServiceSettings


class StampsSettings(BaseServiceSettings):
    """The stamps service's settings."""

    model_config = SettingsConfigDict(env_prefix="STAMPS_", extra="ignore", frozen=True)


@lru_cache
def get_settings() -> StampsSettings:
    """The settings, read once from the environment."""
    return StampsSettings()
