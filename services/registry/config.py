"""Settings of the registry service (environment prefix `REGISTRY_`)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import SecretStr, model_validator
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
    # Partner webhooks: the key their signing secrets are sealed with in the database (required in
    # production), the ports besides 443 a webhook URL may name, and, for development and tests only,
    # deliveries to private addresses over plain http (a fake partner on this machine).
    webhook_secret_key: SecretStr = SecretStr("")
    webhook_allowed_ports: tuple[int, ...] = ()
    webhook_allow_private_targets: bool = False

    @model_validator(mode="after")
    def _webhooks_safe_in_production(self) -> RegistrySettings:
        """Production seals webhook secrets under a real key and delivers to public https addresses only."""
        if self.environment != "production":
            return self
        if self.webhook_allow_private_targets:
            raise ValueError("webhook_allow_private_targets is for development and tests, not production")
        if len(self.webhook_secret_key.get_secret_value()) < 32:
            raise ValueError("webhook_secret_key must be set (32 characters or more) in production")
        return self


@lru_cache
def get_settings() -> RegistrySettings:
    """The settings, read once from the environment."""
    return RegistrySettings()
