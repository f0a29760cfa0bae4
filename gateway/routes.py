"""Which service owns which path prefix (DESIGN.md, "Public API shape")."""

from __future__ import annotations

ROUTES: dict[str, tuple[str, ...]] = {
    "registry": (
        "/v1/admin-units", "/v1/entities", "/v1/products", "/v1/ideas", "/v1/business-plans",
        "/v1/catalogue", "/v1/stats", "/v1/imports", "/v1/change-requests", "/v1/outbox/registry",
        "/v1/webhooks",
    ),
    "scoring": (
        "/v1/criteria-versions", "/v1/product-sets", "/v1/score-sheets", "/v1/councils", "/v1/rounds",
        "/v1/applications", "/v1/results", "/v1/certificates", "/v1/audit", "/v1/outbox/scoring",
    ),
    "stamps": (
        "/v1/stamp-batches", "/v1/stamps", "/v1/stamp-statistics", "/v1/scans", "/v1/anomalies", "/epcis", "/01", "/v",
        "/v1/locations", "/loc", "/v1/trace", "/v1/outbox/stamps", "/s", "/v1/counterfeit-reports",
    ),
}  # fmt: skip

# Served by the gateway itself even where a prefix above would match.
GATEWAY_OWNED = ("/v1/auth", "/.well-known", "/v1/reports")
# Well-known files another service serves: the GS1 resolver's description is the stamps service's.
WELL_KNOWN = {"gs1resolver": "stamps"}


def _segments(path: str) -> list[str]:
    return [segment for segment in path.split("/") if segment]


_TABLE: list[tuple[list[str], str]] = sorted(
    ((_segments(prefix), service) for service, prefixes in ROUTES.items() for prefix in prefixes),
    key=lambda item: -len(item[0]),
)
_OWNED = [_segments(prefix) for prefix in GATEWAY_OWNED]


def upstream_for(path: str) -> str | None:
    """The service that owns ``path``, or None when the gateway serves (or refuses) it itself."""
    segments = _segments(path)
    if not segments or segments[0].lower() == "internal":
        return None
    # Dot segments could walk out of a prefix once an upstream normalises them.
    if any(segment in (".", "..") for segment in segments):
        return None
    if len(segments) == 2 and segments[0] == ".well-known" and segments[1] in WELL_KNOWN:
        return WELL_KNOWN[segments[1]]
    if any(segments[: len(owned)] == owned for owned in _OWNED):
        return None
    if len(segments) >= 4 and segments[:2] == ["v1", "products"] and segments[3] == "passport":
        return None
    for prefix, service in _TABLE:
        if segments[: len(prefix)] == prefix:
            return service
    return None


# Bodies the services accept beyond the default cap (their upload routes), the same caps at the edge:
# tests/gateway/test_body_limits.py checks they match the registry's.
LARGE_BODIES = (
    ("POST /v1/imports", 51 * 1024 * 1024),
    ("POST /v1/products/[^/]+/images", 5 * 1024 * 1024 + 64 * 1024),
    ("POST /v1/counterfeit-reports", 5 * 1024 * 1024 + 64 * 1024),
)
