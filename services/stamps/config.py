"""Settings of the stamps service (environment prefix `STAMPS_`)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.config import BaseServiceSettings


class StampsSettings(BaseServiceSettings):
    """The stamps service's settings."""

    model_config = SettingsConfigDict(env_prefix="STAMPS_", extra="ignore", frozen=True)

    # The most stamps one batch may ask for.
    max_batch: int = Field(default=1_000_000, ge=1)
    # How often the generation job looks for approved batches (an approval also wakes it; 0: not here).
    batch_job_every_s: float = 30.0
    # The host of the GS1 resolver printed in every stamp's Digital Link (and shown under the QR).
    resolver_host: str = "tem.ocop.example.vn"
    # Device ids are hashed with this key before they are logged (32+ characters in production).
    scan_hash_key: SecretStr = SecretStr("development-only-scan-hash-key-0000000000")
    # Concurrent verifications are logged together: at most this many scans per statement.
    scan_batch_max: int = Field(default=256, ge=1, le=5_000)
    # IP hashes' daily salts are kept this many days, then dropped (the hashes become unlinkable).
    scan_salt_days: int = Field(default=30, ge=1, le=365)
    # Monthly partitions of the scan log created ahead of time.
    scan_partitions_ahead: int = Field(default=12, ge=1, le=60)

    @model_validator(mode="after")
    def _check_scan_hash_key(self) -> StampsSettings:
        """Outside development and test, device ids must be hashed with a real key."""
        key = self.scan_hash_key.get_secret_value()
        if self.environment == "production" and (len(key) < 32 or key.startswith("development-only")):
            raise ValueError("scan_hash_key must be set (32 characters or more) in production")
        return self


@lru_cache
def get_settings() -> StampsSettings:
    """The settings, read once from the environment."""
    return StampsSettings()
