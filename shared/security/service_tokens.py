"""Tokens a service presents to another service: role ``service``, re-signed before they expire.

Until the gateway issues client-credentials tokens, each service that calls another holds a signing
key whose public half is in the JWKS every process trusts (``ocop up`` gives it the development key).
"""

from __future__ import annotations

import time

from shared.security.jwt import TokenSigner
from shared.security.principal import Principal, Role

TOKEN_TTL_S = 300
# A token is replaced this long before it expires, so a call in flight never carries a stale one.
RENEW_BEFORE_S = 60


class ServiceIdentity:
    """The calling service's identity: one cached token at a time."""

    def __init__(self, signer: TokenSigner, *, name: str, audience: str, ttl_s: int = TOKEN_TTL_S) -> None:
        self.signer = signer
        self.principal = Principal(sub=f"service:{name}", role=Role.service)
        self.audience = audience
        self.ttl_s = ttl_s
        self._token = ""
        self._renew_at = 0.0

    def token(self) -> str:
        """A valid bearer token for this service."""
        now = time.monotonic()
        if now >= self._renew_at:
            self._token = self.signer.sign(self.principal, audience=self.audience, ttl_s=self.ttl_s)
            self._renew_at = now + self.ttl_s - RENEW_BEFORE_S
        return self._token

    def headers(self) -> dict[str, str]:
        """The Authorization header carrying the token."""
        return {"Authorization": f"Bearer {self.token()}"}
