"""Settings of the registry service (environment prefix `REGISTRY_`)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict

from shared.config import BaseServiceSettings


class RegistrySettings(BaseServiceSettings):
    """The registry service's settings."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore", frozen=True)


@lru_cache
def get_settings() -> RegistrySettings:
    """The settings, read once from the environment."""
    return RegistrySettings()
