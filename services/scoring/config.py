"""Settings of the scoring service (environment prefix `SCORING_`)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict

from shared.config import BaseServiceSettings


class ScoringSettings(BaseServiceSettings):
    """The scoring service's settings."""

    model_config = SettingsConfigDict(env_prefix="SCORING_", extra="ignore", frozen=True)


@lru_cache
def get_settings() -> ScoringSettings:
    """The settings, read once from the environment."""
    return ScoringSettings()
