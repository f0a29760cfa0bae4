"""Settings of the registry service (environment prefix `REGISTRY_`)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict

from shared.config import BaseServiceSettings


class RegistrySettings(BaseServiceSettings):
    """The registry service's settings."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore", frozen=True)

    # An import job without progress for this long was left by a process that died; every replica
    # looks for such jobs this often and fails them (an idempotent UPDATE, safe side by side).
    import_stalled_after_s: float = 600.0
    import_stall_check_s: float = 60.0
    # The public catalogue reads: enough connections to keep PostgreSQL's cores busy, not one per client.
    db_read_pool_size: int = 10


@lru_cache
def get_settings() -> RegistrySettings:
    """The settings, read once from the environment."""
    return RegistrySettings()
