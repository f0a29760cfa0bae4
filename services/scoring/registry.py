"""The registry as scoring sees it: one client, with this service's own token, over shared/http.py."""

from __future__ import annotations

import uuid
from typing import Any

from shared.errors import ProblemError
from shared.http import JsonAnswer, UpstreamError, make_service_client, request_json
from shared.security.service_tokens import ServiceIdentity

# What a caller is told to wait before retrying when the registry cannot be reached.
RETRY_AFTER_S = 30


class RegistryUnavailable(ProblemError):
    """The registry did not answer (down, timed out, or this service holds no key to call it)."""

    status = 503
    type = "registry-unavailable"
    title = "The registry is unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"Retry-After": str(RETRY_AFTER_S)})


class RegistryClient:
    """Calls to the registry's API with a service token; every failure to reach it is RegistryUnavailable."""

    def __init__(
        self, base_url: str, identity: ServiceIdentity | None, *, timeout_s: float, transport: Any = None
    ) -> None:
        self.http = make_service_client(base_url, transport=transport)
        self.identity = identity
        self.timeout_s = timeout_s

    async def call(self, method: str, path: str, *, json: object = None) -> JsonAnswer:
        """One call; a 5xx, a timeout or a refused connection raise RegistryUnavailable."""
        if self.identity is None:
            raise RegistryUnavailable("scoring has no service signing key to call the registry with")
        try:
            answer = await request_json(
                self.http, method, path, headers=self.identity.headers(), json=json, deadline_s=self.timeout_s
            )
        except UpstreamError as exc:
            raise RegistryUnavailable(f"the registry could not be reached: {exc}") from exc
        if answer.status >= 500:
            raise RegistryUnavailable(f"the registry answered {answer.status} to {method} {path}")
        return answer

    async def get(self, path: str) -> JsonAnswer:
        """GET ``path``."""
        return await self.call("GET", path)

    async def product(self, product_id: uuid.UUID) -> JsonAnswer:
        """The registry's record of a product (404 when it has none)."""
        return await self.get(f"/v1/products/{product_id}")

    async def entity(self, entity_id: uuid.UUID) -> JsonAnswer:
        """The registry's record of an entity (404 when it has none)."""
        return await self.get(f"/v1/entities/{entity_id}")

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()
