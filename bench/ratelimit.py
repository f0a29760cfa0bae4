"""``python -m bench.ratelimit``: the gateway's rate-limit middleware's own CPU per request, in-process.

No sockets, no other process: the middleware in front of an app that only yields to the event loop
once (as a proxied request does), against that app alone, for an anonymous read, a read with a token
and a write with one. On a shared machine this isolates a cost of a few µs that the load runs of
``python -m bench`` cannot resolve.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvloop

from gateway.config import GatewaySettings
from gateway.ratelimit import RateLimitMiddleware
from shared.security.dependencies import build_verifier
from shared.security.jwt import TokenSigner
from shared.security.keys import generate_rsa_pair, jwks
from shared.security.principal import Principal, Role

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
KID = "bench-ratelimit"
# The bench's generous limits: nothing is ever refused, so every request costs a full count.
GENEROUS = "10000000/minute"


async def _inner(_scope: dict[str, Any], _receive: Any, _send: Any) -> None:
    await asyncio.sleep(0)


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(_message: dict[str, Any]) -> None:
    return None


def _scope(method: str, token: str | None) -> dict[str, Any]:
    headers = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench"), (b"accept", b"*/*")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    return {
        "type": "http",
        "method": method,
        "path": "/v1/catalogue/5f0e4b7e-9c1d-4c55-9d55-0f3c1c0b7a11",
        "headers": headers,
        "client": ("127.0.0.1", 50123),
    }


async def _cpu_us_per_call(app: App, scope: dict[str, Any], calls: int) -> float:
    for _ in range(calls // 10):  # warm
        await app(scope, _receive, _send)
    started = time.process_time()  # every thread of the process: a timer thread would count
    for _ in range(calls):
        await app(scope, _receive, _send)
    return (time.process_time() - started) / calls * 1e6


async def measure(calls: int, repeats: int) -> dict[str, dict[str, float]]:
    """Median µs of CPU per call, bare and through the middleware, for each kind of request."""
    private_pem, public_pem = generate_rsa_pair()
    settings = GatewaySettings(
        jwt_public_keys=jwks(public_pem, KID),
        rate_limit_anonymous=GENEROUS,
        rate_limit_authenticated=GENEROUS,
        rate_limit_writes=GENEROUS,
    )
    signer = TokenSigner(private_pem, kid=KID, issuer=settings.jwt_issuer)
    token = signer.sign(
        Principal(sub="bench", role=Role.producer, scope="bench"), audience=settings.jwt_audience
    )
    middleware = RateLimitMiddleware(_inner, settings.rate_limits(), build_verifier(settings))
    cases = {
        "anonymous GET": _scope("GET", None),
        "GET with a token": _scope("GET", token),
        "POST with a token": _scope("POST", token),
    }
    figures: dict[str, dict[str, float]] = {}
    for name, scope in cases.items():
        bare, limited = [], []
        for _ in range(repeats):
            bare.append(await _cpu_us_per_call(_inner, scope, calls))
            limited.append(await _cpu_us_per_call(middleware, scope, calls))  # type: ignore[arg-type]
        figures[name] = {"bare_us": statistics.median(bare), "limited_us": statistics.median(limited)}
    return figures


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.ratelimit", description=__doc__)
    parser.add_argument("--calls", type=int, default=50_000, help="calls per measurement (default 50000)")
    parser.add_argument("--repeats", type=int, default=7, help="measurements, median kept (default 7)")
    args = parser.parse_args(argv)
    figures = uvloop.run(measure(args.calls, args.repeats))
    print(
        f"counters: {GatewaySettings().rate_limits().storage_url}; median of {args.repeats} x {args.calls} calls\n"
    )
    print("| request | app alone µs | with the rate limits µs | the limits µs |")
    print("|---|---:|---:|---:|")
    for name, row in figures.items():
        print(
            f"| {name} | {row['bare_us']:.2f} | {row['limited_us']:.2f} "
            f"| {row['limited_us'] - row['bare_us']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
