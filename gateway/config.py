"""Settings of the gateway (environment prefix `GATEWAY_`)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict

from shared.config import BaseServiceSettings
from shared.http import Timeouts, UpstreamClientKind


class GatewaySettings(BaseServiceSettings):
    """Upstream addresses, the client used to reach them, and their timeouts."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    registry_url: str = "http://127.0.0.1:8001"
    scoring_url: str = "http://127.0.0.1:8002"
    stamps_url: str = "http://127.0.0.1:8003"
    upstream_client: UpstreamClientKind = "aiohttp"
    upstream_connect_timeout_s: float = 2.0
    upstream_read_timeout_s: float = 15.0
    upstream_write_timeout_s: float = 15.0
    upstream_pool_timeout_s: float = 2.0
    upstream_max_connections: int = 100

    def upstream_urls(self) -> dict[str, str]:
        """Base URL of each upstream service by name."""
        return {"registry": self.registry_url, "scoring": self.scoring_url, "stamps": self.stamps_url}

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
