"""Settings of the gateway (environment prefix `GATEWAY_`)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from gateway.ratelimit import RateLimits
from shared.config import BaseServiceSettings
from shared.http import Timeouts, UpstreamClientKind


class GatewaySettings(BaseServiceSettings):
    """Upstream addresses, the client used to reach them, and their timeouts."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    registry_url: str = "http://127.0.0.1:8001"
    scoring_url: str = "http://127.0.0.1:8002"
    stamps_url: str = "http://127.0.0.1:8003"
    upstream_client: UpstreamClientKind = "native"
    upstream_connect_timeout_s: float = 2.0
    upstream_read_timeout_s: float = 15.0
    upstream_write_timeout_s: float = 15.0
    upstream_pool_timeout_s: float = 2.0
    upstream_max_connections: int = 100
    # Rate limits ("N/second|minute|hour"): anonymous callers per IP, authenticated ones per subject,
    # and writes per subject on top. Counters in memory unless OCOP_REDIS_URL names a Redis to share.
    rate_limits_enabled: bool = True
    rate_limit_anonymous: str = "300/minute"
    rate_limit_authenticated: str = "1200/minute"
    rate_limit_writes: str = "120/minute"
    # Stamp verifications (GET /01/…, /v/…, /s/{token}) per address: a shop's or a campus's NAT included.
    rate_limit_verification: str = "600/minute"
    rate_limit_key_prefix: str = "ocop-gateway"
    max_concurrent_per_address: int = 64
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OCOP_REDIS_URL", "GATEWAY_REDIS_URL")
    )

    def upstream_urls(self) -> dict[str, str]:
        """Base URL of each upstream service by name."""
        return {"registry": self.registry_url, "scoring": self.scoring_url, "stamps": self.stamps_url}

    def rate_limits(self) -> RateLimits:
        """The limits and where their counters live."""
        storage = "memory://"
        if self.redis_url:
            storage = "async+" + self.redis_url.removeprefix("async+")
        return RateLimits(
            self.rate_limit_anonymous,
            self.rate_limit_authenticated,
            self.rate_limit_writes,
            self.rate_limit_verification,
            storage,
            self.rate_limit_key_prefix,
            self.max_concurrent_per_address,
        )

    def timeouts(self) -> Timeouts:
        """The per-phase upstream timeouts."""
        return Timeouts(
            connect=self.upstream_connect_timeout_s,
            read=self.upstream_read_timeout_s,
            write=self.upstream_write_timeout_s,
            pool=self.upstream_pool_timeout_s,
        )


@lru_cache
def get_settings() -> GatewaySettings:
    """The settings, read once from the environment."""
    return GatewaySettings()
