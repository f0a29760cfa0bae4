"""Settings shared by every service: one pydantic-settings class per service, each with its own prefix."""

from __future__ import annotations

import os
from typing import Any, Literal

import pydantic_core
from pydantic import BaseModel, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.events.settings import EventSettings

Environment = Literal["development", "test", "production"]

# Values that ship in examples and must never reach a real deployment.
PLACEHOLDER_SECRETS = frozenset({"changeme", "changethis", "secret", "password", "example"})


class BaseServiceSettings(BaseSettings):
    """Settings every service has; subclasses set ``env_prefix`` (``REGISTRY_``, ``GATEWAY_``...)."""

    # Nested settings read as ``<PREFIX>EVENTS__SUBSCRIBERS='[...]'`` (JSON) or one field at a time.
    model_config = SettingsConfigDict(extra="ignore", frozen=True, env_nested_delimiter="__")

    environment: Environment = "development"
    database_url: SecretStr = SecretStr("")
    # The SQLAlchemy pool: a fixed set of connections. Overflow connections are opened and closed per
    # request under load (a backend start costs more than most reads): requests wait for one instead.
    db_pool_size: int = 10
    db_max_overflow: int = 0
    # The asyncpg pool of public reads (shared.db.create_read_pool); 0: the service opens none.
    db_read_pool_size: int = 0
    db_read_pool_min_size: int = 1
    db_statement_timeout_ms: int = 15_000
    log_level: str = "INFO"
    access_log: bool = True
    # Request bodies: the cap of routes without one of their own, and how long a body may pause.
    max_body_bytes: int = 1024 * 1024
    body_read_timeout_s: float = 30.0
    # Tokens are issued by the gateway (or a trusted OIDC issuer); services only hold public keys.
    jwt_issuer: str = "ocop-gateway"
    jwt_audience: str = "ocop-platform"
    jwt_public_keys: str = ""  # a JWKS document: {"keys": [{"kid": ..., "kty": "RSA", ...}]}
    # Integration events: who receives this service's events, which signatures it accepts, its relay.
    events: EventSettings = EventSettings()

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> BaseServiceSettings:
        """Refuse known placeholder secrets anywhere but on a developer's machine."""
        if self.environment == "development":
            return self
        for name, value in self:
            if isinstance(value, SecretStr) and _is_placeholder(value.get_secret_value()):
                raise ValueError(f"{name} holds a placeholder secret; set a real one for {self.environment}")
        return self

    def child_environment(self) -> dict[str, str]:
        """The environment of a child process that must read exactly these settings (secrets included)."""
        prefix = str(self.model_config.get("env_prefix", "")).upper()
        # The parent's own variables of this prefix go: nested ones (``X__Y``) would be merged into ours.
        inherited = {name: value for name, value in os.environ.items() if not name.upper().startswith(prefix)}
        for name, value in self:
            if value is not None:
                plain = _plain(value)
                inherited[f"{prefix}{name.upper()}"] = (
                    plain if isinstance(plain, str) else pydantic_core.to_json(plain).decode()
                )
        return inherited


def _plain(value: Any) -> Any:
    """``value`` with its secrets revealed and its models as dicts, ready for JSON."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, BaseModel):
        return {name: _plain(item) for name, item in value}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _is_placeholder(secret: str) -> bool:
    """Tell whether a secret (or the password inside a URL) is a well-known placeholder."""
    lowered = secret.lower()
    if lowered in PLACEHOLDER_SECRETS:
        return True
    if "://" in lowered and "@" in lowered:
        credentials = lowered.split("://", 1)[1].split("@", 1)[0]
        password = credentials.split(":", 1)[1] if ":" in credentials else ""
        return password in PLACEHOLDER_SECRETS
    return False
