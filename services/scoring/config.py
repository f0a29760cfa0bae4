"""Settings of the scoring service (environment prefix `SCORING_`)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from shared.config import BaseServiceSettings


class ScoringSettings(BaseServiceSettings):
    """The scoring service's settings."""

    model_config = SettingsConfigDict(env_prefix="SCORING_", extra="ignore", frozen=True)

    # The registry, read at submission (product and entity snapshot) and told of every certificate.
    registry_url: str = "http://127.0.0.1:8001"
    registry_timeout_s: float = 5.0
    # The key this service signs its own service tokens with (PEM); its public half must be in the
    # JWKS the registry trusts. Empty: calls to the registry are refused as unavailable.
    service_signing_key: SecretStr = SecretStr("")
    service_key_id: str = "dev-1"
    # How often the certificate job moves certificates along their life (0: not in this process).
    certificate_job_every_s: float = 60.0


@lru_cache
def get_settings() -> ScoringSettings:
    """The settings, read once from the environment."""
    return ScoringSettings()
