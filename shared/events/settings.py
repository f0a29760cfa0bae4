"""How a service's events are routed and delivered: part of every service's settings (``<PREFIX>EVENTS__…``)."""

from __future__ import annotations

from fnmatch import fnmatchcase

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class Subscriber(BaseModel):
    """A service that receives some of this service's events at its ``/internal/events``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    url: str
    # Shell-style patterns of the event types it takes (``scoring.certificate.*``).
    types: tuple[str, ...] = ("*",)
    secret: SecretStr

    def wants(self, event_type: str) -> bool:
        """Whether this subscriber takes events of ``event_type``."""
        return any(fnmatchcase(event_type, pattern) for pattern in self.types)


class EventSettings(BaseModel):
    """Subscribers of this service's events, secrets it accepts, and how its relay behaves."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subscribers: tuple[Subscriber, ...] = ()
    # Secrets a delivery to this service may be signed with, per source (several while rotating): a
    # delivery signed with scoring's secret must be scoring's event.
    accepted_secrets: dict[str, tuple[SecretStr, ...]] = Field(default_factory=dict)
    relay: bool = True  # run the relay in this process
    # Deliveries per pass: 200 relayed 815 events/s to two subscribers, 500 relayed 1,331 (bench.events).
    batch_size: int = Field(default=500, ge=1, le=5000)
    concurrency: int = Field(default=64, ge=1, le=1000)  # posts in flight, all destinations together
    destination_concurrency: int = Field(default=16, ge=1, le=1000)  # posts in flight to one destination
    max_attempts: int = Field(default=15, ge=1)
    first_retry_s: float = Field(default=1.0, gt=0)
    last_retry_s: float = Field(default=3600.0, gt=0)
    timeout_s: float = Field(default=5.0, gt=0)
    poll_s: float = Field(default=5.0, gt=0)  # the sweep when no notification arrives
    lease_s: float = Field(default=60.0, gt=0)
    replay_window_s: int = Field(default=300, ge=1)
    retention_days: int = Field(default=14, ge=1)

    def secrets_by_source(self) -> dict[str, list[str]]:
        """The accepted secrets in clear, per source (for the signature check)."""
        return {
            source: [secret.get_secret_value() for secret in secrets if secret.get_secret_value()]
            for source, secrets in self.accepted_secrets.items()
        }
