"""Rate limits at the edge: anonymous callers per IP, authenticated ones per subject, writes per subject.

Counters live in memory, or in Redis when ``OCOP_REDIS_URL`` is set so that several gateway replicas
share them. A caller over its limit gets 429 problem+json with ``Retry-After``; the request never
reaches a service. A token only counts as a subject when it verifies (the same keys the services
trust), so a forged ``sub`` cannot escape the per-IP limit.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.errors import problem_response
from shared.security.jwt import InvalidToken, TokenVerifier

logger = logging.getLogger("gateway.ratelimit")

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Only the public API is limited; health checks and the docs stay reachable for operators and probes.
LIMITED_PREFIXES = ("/v1/",)
VERIFIED_CACHE_SIZE = 4096


@dataclass(frozen=True)
class RateLimits:
    """The limits, in the ``limits`` notation ("300/minute")."""

    anonymous: str
    authenticated: str
    writes: str
    storage_url: str = "async+memory://"
    key_prefix: str = "ocop-gateway"
    # Requests one address may have in progress at once at this replica (slow bodies included).
    concurrent_per_address: int = 64


class _VerifiedSubjects:
    """Subjects of recently verified tokens: verifying RS256 per request would cost the edge CPU."""

    def __init__(self, verifier: TokenVerifier | None) -> None:
        self.verifier = verifier
        self.known: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def subject(self, token: str) -> str | None:
        """The token's ``role:sub`` if it verifies and has not expired, else None."""
        now = time.time()
        cached = self.known.get(token)
        if cached is not None and cached[1] > now:
            self.known.move_to_end(token)
            return cached[0]
        if self.verifier is None:
            return None
        try:
            principal = self.verifier.verify(token)
        except InvalidToken:
            return None
        # Cached for a minute at most: the token's own expiry still rules at the services.
        self.known[token] = (f"{principal.role.value}:{principal.sub}", now + 60)
        if len(self.known) > VERIFIED_CACHE_SIZE:
            self.known.popitem(last=False)
        return self.known[token][0]


class RateLimitMiddleware:
    """Pure ASGI: counts each request against its caller's limits before anything else happens."""

    def __init__(self, app: ASGIApp, limits: RateLimits, verifier: TokenVerifier | None) -> None:
        self.app = app
        self.anonymous: RateLimitItem = parse(limits.anonymous)
        self.authenticated: RateLimitItem = parse(limits.authenticated)
        self.writes: RateLimitItem = parse(limits.writes)
        options = {"key_prefix": limits.key_prefix} if "redis" in limits.storage_url else {}
        self.limiter = FixedWindowRateLimiter(storage_from_string(limits.storage_url, **options))
        self.subjects = _VerifiedSubjects(verifier)
        self.concurrent_per_address = limits.concurrent_per_address
        self.in_progress: dict[str, int] = {}

    def _checks(self, scope: Scope) -> list[tuple[RateLimitItem, str, str]]:
        token = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, credentials = value.decode("latin-1").partition(" ")
                token = credentials.strip() if scheme.lower() == "bearer" else None
                break
        subject = self.subjects.subject(token) if token else None
        if subject is None:
            client = scope.get("client")
            return [(self.anonymous, "ip", client[0] if client else "unknown")]
        checks = [(self.authenticated, "subject", subject)]
        if scope["method"] in WRITE_METHODS:
            checks.append((self.writes, "writes", subject))
        return checks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(LIMITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else "unknown"
        if self.in_progress.get(address, 0) >= self.concurrent_per_address:
            response = problem_response(
                429, "too-many-concurrent-requests", "Too many requests in progress",
                f"this address may have {self.concurrent_per_address} requests in progress at once",
                scope["path"], headers={"Retry-After": "1"},
            )  # fmt: skip
            await response(scope, receive, send)
            return
        self.in_progress[address] = self.in_progress.get(address, 0) + 1
        try:
            await self._limited(scope, receive, send)
        finally:
            remaining = self.in_progress[address] - 1
            if remaining:
                self.in_progress[address] = remaining
            else:
                del self.in_progress[address]

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        for item, kind, key in self._checks(scope):
            try:
                allowed = await self.limiter.hit(item, kind, key)
            except Exception:  # a broken counter store must not take the API down with it
                logger.exception("rate-limit store unavailable; letting the request through")
                allowed = True
            if not allowed:
                await self._refuse(scope, receive, send, item, kind, key)
                return
        await self.app(scope, receive, send)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, item: RateLimitItem, kind: str, key: str
    ) -> None:
        stats: Any = await self.limiter.get_window_stats(item, kind, key)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        who = {"ip": "this address", "subject": "this client", "writes": "this client's writes"}[kind]
        response = problem_response(
            429,
            "rate-limited",
            "Too many requests",
            f"{who} may make {item.amount} request(s) per {item.multiples} {item.GRANULARITY.name}; "
            f"try again in {retry_after} s",
            scope["path"],
            headers={"Retry-After": str(retry_after)},
            limit=str(item),
        )
        await response(scope, receive, send)
