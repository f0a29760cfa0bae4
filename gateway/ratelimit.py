"""Rate limits at the edge: anonymous callers per IP, authenticated ones per subject, writes on top.

Counters live in this process's memory (counted synchronously on the event loop: a few µs per
request), or in Redis when ``OCOP_REDIS_URL`` is set so that several gateway replicas share them. A caller over its limit gets 429 problem+json with ``Retry-After``; the request never
reaches a service. A token only counts as a subject when it verifies (the same keys the services
trust), so a forged ``sub`` cannot escape the per-IP limit. Every write also counts against the
writes limit: its subject's, or without a valid token its address's.

What counts: the API (``/v1/``), the writes of a scan's page (``POST /s/{token}/geo``, a consumer's
location), and the verification reads (``/01/…``, ``/v/…``, the page ``/s/{token}``: DESIGN.md,
anonymous callers "verify a stamp … rate-limited"). Those reads count against a limit of their own per
address, far above the API's: shops and campuses scan from behind shared NATs, and a serial carries 80
random bits, so no rate makes enumerating serials pay; the limit bounds what one address can make the
scan log write (the anomaly rules, R10, watch for enumeration below it).
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.strategies import FixedWindowRateLimiter as AsyncFixedWindowRateLimiter
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.errors import problem_response
from shared.security.jwt import InvalidToken, TokenVerifier

logger = logging.getLogger("gateway.ratelimit")

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Only the public API (with EPCIS's capture and query interface) is limited; health checks and the docs
# stay reachable for operators and probes.
LIMITED_PREFIXES = ("/v1/", "/epcis/")
# Outside it only writes count: a scan's location, shared from its page.
LIMITED_WRITE_PREFIXES = ("/s/",)
# Reads of the resolver and of a scan's page count against the verification limit.
VERIFICATION_PREFIXES = ("/01/", "/v/", "/s/")
VERIFICATION_METHODS = frozenset({"GET", "HEAD"})
VERIFIED_CACHE_SIZE = 4096
# How often, at most, the in-process counters drop the windows that have ended.
SWEEP_EVERY_S = 60.0


@dataclass(frozen=True)
class RateLimits:
    """The limits, in the ``limits`` notation ("300/minute")."""

    anonymous: str
    authenticated: str
    writes: str
    # Verification reads (GET /01/…, /v/…, /s/{token}) per address, whoever calls.
    verification: str = "600/minute"
    # "memory://" (this process) or a Redis URL, always used through the async client.
    storage_url: str = "memory://"
    key_prefix: str = "ocop-gateway"
    # Requests one address may have in progress at once at this replica (slow bodies included).
    concurrent_per_address: int = 64


class _Window:
    """One key's count in its current fixed window."""

    __slots__ = ("count", "ends_at")

    def __init__(self, count: int, ends_at: float) -> None:
        self.count = count
        self.ends_at = ends_at


class EventLoopMemoryStorage(Storage):
    """Fixed-window counters in this process's memory, for callers on one event loop (no locks).

    limits' own memory storages expire counters from a timer: the synchronous one starts a thread
    every 10 ms under load (0.4 ms of CPU each on the bench machine), the asynchronous one a task
    per hit. Here a hit on an ended window starts a new one, and ended windows are dropped at most
    once a minute.
    """

    STORAGE_SCHEME = None  # built directly, never from a URL

    def __init__(self) -> None:
        super().__init__()
        self.windows: dict[str, _Window] = {}
        self.next_sweep = 0.0

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ValueError

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        """Count ``amount`` hits on ``key``, starting a window of ``expiry`` seconds if none is open."""
        now = time.time()
        window = self.windows.get(key)
        if window is not None and window.ends_at > now:
            window.count += amount
            return window.count
        if now >= self.next_sweep:
            self.windows = {name: kept for name, kept in self.windows.items() if kept.ends_at > now}
            self.next_sweep = now + SWEEP_EVERY_S
        self.windows[key] = _Window(amount, now + expiry)
        return amount

    def get(self, key: str) -> int:
        """Hits on ``key`` in its open window."""
        window = self.windows.get(key)
        return window.count if window is not None and window.ends_at > time.time() else 0

    def get_expiry(self, key: str) -> float:
        """When ``key``'s open window ends (now if none is open)."""
        now = time.time()
        window = self.windows.get(key)
        return window.ends_at if window is not None and window.ends_at > now else now

    def check(self) -> bool:
        """Always healthy: it is a dict."""
        return True

    def reset(self) -> int | None:
        """Forget every counter."""
        count = len(self.windows)
        self.windows.clear()
        return count

    def clear(self, key: str) -> None:
        """Forget ``key``'s counter."""
        self.windows.pop(key, None)


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


Check = tuple[RateLimitItem, str, str]  # the limit, what it counts ("ip", "subject", "writes"), whose


def _first_refused(limiter: FixedWindowRateLimiter, checks: tuple[Check, ...]) -> Check | None:
    """The first check over its limit, counting each until then (in this process's memory)."""
    for check in checks:
        if not limiter.hit(*check):
            return check
    return None


async def _first_refused_shared(
    limiter: AsyncFixedWindowRateLimiter, checks: tuple[Check, ...]
) -> Check | None:
    """The first check over its limit, counting each until then (in the shared store)."""
    for check in checks:
        try:
            allowed = await limiter.hit(*check)
        except Exception:  # a broken counter store must not take the API down with it
            logger.exception("rate-limit store unavailable; letting the request through")
            allowed = True
        if not allowed:
            return check
    return None


def _counted_as(path: str, method: str) -> str | None:
    """How a request counts: "verification", "api" (the API's, and writes under LIMITED_WRITE_PREFIXES), or not."""
    if method in VERIFICATION_METHODS and path.startswith(VERIFICATION_PREFIXES):
        return "verification"
    if path.startswith(LIMITED_PREFIXES) or (
        method in WRITE_METHODS and path.startswith(LIMITED_WRITE_PREFIXES)
    ):
        return "api"
    return None


class RateLimitMiddleware:
    """Pure ASGI: counts each request against its caller's limits before anything else happens."""

    def __init__(self, app: ASGIApp, limits: RateLimits, verifier: TokenVerifier | None) -> None:
        self.app = app
        self.anonymous: RateLimitItem = parse(limits.anonymous)
        self.authenticated: RateLimitItem = parse(limits.authenticated)
        self.writes: RateLimitItem = parse(limits.writes)
        self.verification: RateLimitItem = parse(limits.verification)
        self.limiter: FixedWindowRateLimiter | AsyncFixedWindowRateLimiter
        if limits.storage_url.removeprefix("async+").startswith("memory://"):
            # limits' synchronous strategy over counters of our own, called without awaiting: no
            # coroutine, task, lock or thread per request, and nothing else runs between read and write.
            self.limiter = FixedWindowRateLimiter(EventLoopMemoryStorage())
        else:
            url = "async+" + limits.storage_url.removeprefix("async+")
            options = {"key_prefix": limits.key_prefix} if "redis" in url else {}
            self.limiter = AsyncFixedWindowRateLimiter(storage_from_string(url, **options))
        self.subjects = _VerifiedSubjects(verifier)
        self.concurrent_per_address = limits.concurrent_per_address
        self.in_progress: dict[str, int] = {}

    def _checks(self, scope: Scope, address: str) -> tuple[Check, ...]:
        token = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, credentials = value.decode("latin-1").partition(" ")
                token = credentials.strip() if scheme.lower() == "bearer" else None
                break
        subject = self.subjects.subject(token) if token else None
        write = scope["method"] in WRITE_METHODS
        if subject is None:
            if write:
                return ((self.anonymous, "ip", address), (self.writes, "ip-writes", address))
            return ((self.anonymous, "ip", address),)
        if write:
            return ((self.authenticated, "subject", subject), (self.writes, "writes", subject))
        return ((self.authenticated, "subject", subject),)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        counted_as = _counted_as(scope["path"], scope["method"]) if scope["type"] == "http" else None
        if counted_as is None:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else "unknown"
        in_progress = self.in_progress.get(address, 0)
        if in_progress >= self.concurrent_per_address:
            response = problem_response(
                429, "too-many-concurrent-requests", "Too many requests in progress",
                f"this address may have {self.concurrent_per_address} requests in progress at once",
                scope["path"], headers={"Retry-After": "1"},
            )  # fmt: skip
            await response(scope, receive, send)
            return
        self.in_progress[address] = in_progress + 1
        try:
            checks: tuple[Check, ...] = (
                ((self.verification, "ip-verification", address),)
                if counted_as == "verification"
                else self._checks(scope, address)
            )
            limiter = self.limiter
            if isinstance(limiter, FixedWindowRateLimiter):
                refused = _first_refused(limiter, checks)
            else:
                refused = await _first_refused_shared(limiter, checks)
            if refused is None:
                await self.app(scope, receive, send)
            else:
                await self._refuse(scope, receive, send, *refused)
        finally:
            remaining = self.in_progress[address] - 1
            if remaining:
                self.in_progress[address] = remaining
            else:
                del self.in_progress[address]

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, item: RateLimitItem, kind: str, key: str
    ) -> None:
        stats: Any
        if isinstance(self.limiter, FixedWindowRateLimiter):
            stats = self.limiter.get_window_stats(item, kind, key)
        else:
            stats = await self.limiter.get_window_stats(item, kind, key)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        who = {
            "ip": "this address", "ip-writes": "this address's writes",
            "ip-verification": "this address's verifications",
            "subject": "this client", "writes": "this client's writes",
        }[kind]  # fmt: skip
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
