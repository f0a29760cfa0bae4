"""Settings of the registry service (environment prefix `REGISTRY_`)."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
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

    # The national OCOP system (docs/EVENTS.md, "The national sync"): empty URL, no national sync.
    national_url: str = ""
    national_token: SecretStr = SecretStr("")
    national_secret: SecretStr = SecretStr("")
    national_timeout_s: float = Field(default=10.0, gt=0, le=300)

    @model_validator(mode="after")
    def _check_national(self) -> RegistrySettings:
        """A national URL must be absolute, https outside development and test, with a token and a secret."""
        if not self.national_url:
            return self
        url = urlsplit(self.national_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"national_url must be an absolute http(s) URL, not {self.national_url!r}")
        if url.scheme != "https" and self.environment == "production":
            raise ValueError(
                "national_url must be https:// in production (the token and records travel in it)"
            )
        for name in ("national_token", "national_secret"):
            secret: SecretStr = getattr(self, name)
            if not secret.get_secret_value():
                raise ValueError(f"{name} is required when national_url is set")
        return self


@lru_cache
def get_settings() -> RegistrySettings:
    """The settings, read once from the environment."""
    return RegistrySettings()
