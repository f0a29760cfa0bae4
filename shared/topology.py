"""Where each process of the suite lives: its schema, database role, port and ASGI app."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ProcessSpec:
    """One process of the suite and the database schema it owns."""

    name: str
    schema: str
    role: str
    port: int
    app: str
    migrations: Path
    edge: bool = False

    def uvicorn_args(self) -> list[str]:
        """Server flags: the edge must not trust X-Forwarded-* from clients; services trust it.

        Services keep idle connections longer than the gateway's pool does (30 s), so the gateway
        never reuses a connection the service has just closed (uvicorn's default is 5 s).
        """
        # Every process bounds its requests' header size and header time (shared/server.py).
        common = ["--no-access-log", "--http", "shared.server:GuardedHttpToolsProtocol"]
        if self.edge:
            return [*common, "--no-proxy-headers"]
        return [*common, "--timeout-keep-alive", "35"]

    @property
    def env_prefix(self) -> str:
        """Prefix of this process's settings in the environment (``REGISTRY_``)."""
        return f"{self.name.upper()}_"


def _spec(name: str, port: int, app: str, migrations: str, *, edge: bool = False) -> ProcessSpec:
    return ProcessSpec(name, name, f"ocop_{name}", port, app, REPO_ROOT / migrations, edge)


REGISTRY = _spec("registry", 8001, "services.registry.main:app", "services/registry/migrations")
SCORING = _spec("scoring", 8002, "services.scoring.main:app", "services/scoring/migrations")
STAMPS = _spec("stamps", 8003, "services.stamps.main:app", "services/stamps/migrations")
GATEWAY = _spec("gateway", 8000, "gateway.main:app", "gateway/migrations", edge=True)

SERVICES = (REGISTRY, SCORING, STAMPS)
PROCESSES = (GATEWAY, *SERVICES)

# Extensions live in a schema of their own that every role may use, never in a service's schema.
EXTENSIONS_SCHEMA = "extensions"
EXTENSIONS = ("pg_trgm", "unaccent")

# The services whose schema holds an outbox (and an inbox): shared/events/tables.py.
OUTBOXES = ("registry", "scoring", "stamps")

# Who receives whose integration events (docs/EVENTS.md): source → subscriber → event-type patterns.
# Adding a consumer is a line here (and its handlers); the producer's code does not change.
SUBSCRIPTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "scoring": {"registry": ("scoring.certificate.*",), "stamps": ("scoring.certificate.*",)},
    "registry": {
        "scoring": ("registry.product.*", "registry.entity.*"),
        "stamps": ("registry.product.*", "registry.entity.*"),
    },
    # The stamps service asks for a full copy when it starts with an empty one.
    "stamps": {"registry": ("stamps.snapshot.requested",), "scoring": ("stamps.snapshot.requested",)},
}


def event_env(
    host: str | Callable[[str], str], ports: dict[str, int], secrets: dict[str, str]
) -> dict[str, str]:
    """The events settings of every service of a suite: its subscribers, and the secrets it accepts.

    ``host`` is every subscriber's host, or gives it by subscriber name (in a cluster each service is
    its own host). ``secrets`` holds one signing secret per source; each subscriber accepts its
    sources' secrets.
    """
    hosts = {name: host(name) if callable(host) else host for name in ports}
    env: dict[str, str] = {}
    accepted: dict[str, dict[str, list[str]]] = {}
    for source, subscribers in SUBSCRIPTIONS.items():
        env[f"{source.upper()}_EVENTS__SUBSCRIBERS"] = json.dumps([
            {"name": name, "url": f"http://{hosts[name]}:{ports[name]}/internal/events", "types": list(types),
             "secret": secrets[source]}
            for name, types in subscribers.items()
        ])  # fmt: skip
        for name in subscribers:
            accepted.setdefault(name, {})[source] = [secrets[source]]
    for name, by_source in accepted.items():
        env[f"{name.upper()}_EVENTS__ACCEPTED_SECRETS"] = json.dumps(by_source)
    return env
