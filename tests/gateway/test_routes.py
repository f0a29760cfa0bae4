"""The prefix table of DESIGN.md, and the paths the gateway must never forward."""

from __future__ import annotations

import pytest

from gateway.routes import upstream_for


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/v1/products", "registry"),
        ("/v1/products/0b6f/history", "registry"),
        ("/v1/catalogue", "registry"),
        ("/v1/admin-units/22", "registry"),
        ("/v1/entities", "registry"),
        ("/v1/ideas/1/submit", "registry"),
        ("/v1/business-plans", "registry"),
        ("/v1/criteria-versions", "scoring"),
        ("/v1/product-sets", "scoring"),
        ("/v1/score-sheets/import", "scoring"),
        ("/v1/certificates/9", "scoring"),
        ("/v1/applications", "scoring"),
        ("/v1/score-sheets/1", "scoring"),
        ("/v1/results/stats", "scoring"),
        ("/v1/audit/0b6f", "scoring"),
        ("/v1/certificates/lookup", "scoring"),
        ("/v1/stamp-batches", "stamps"),
        ("/v1/anomalies", "stamps"),
        ("/v1/locations/places", "stamps"),
        ("/loc/0b6f", "stamps"),
        ("/v1/stamp-batches/0b6f/labels.pdf", "stamps"),
        ("/v1/stamps/7K3Q9M2XH4TB8VNCF9/qr.png", "stamps"),
        ("/v1/stamp-statistics", "stamps"),
        ("/01/08938505974016/21/ABC123", "stamps"),
        ("/v/ABC123", "stamps"),
        ("/epcis/events", "stamps"),
        ("/epcis/export", "stamps"),
        ("/v1/trace", "stamps"),
        ("/v1/stamps/7K3Q9M2XH4TB8VNCF9/trace", "stamps"),
        ("/.well-known/gs1resolver", "stamps"),
        ("/s/AAAAAAAAAHsABmGd5U4VgMpzWIfvDLN_oAF4BVlKyW8", "stamps"),
        ("/s/AAAAAAAAAHsABmGd5U4VgMpzWIfvDLN_oAF4BVlKyW8/geo", "stamps"),
        ("/v1/counterfeit-reports", "stamps"),
        ("/v1/counterfeit-reports/0b6f/resolve", "stamps"),
    ],
)
def test_prefix_routes_to_owner(path: str, service: str) -> None:
    assert upstream_for(path) == service


@pytest.mark.parametrize(
    "path",
    [
        "/internal/events",
        "/Internal/events",
        "//internal/events",
        "/v1/products/../../internal/events",
        "/v1/products/./x",
        "/v1/auth/token",
        "/.well-known/jwks.json",
        "/.well-known/gs1resolver/x",
        "/v1/products/0b6f/passport",
        "/sx/1",
        "/v1/reports/summary",
        "/v1/productsX",
        "/healthz",
        "/docs",
        "/",
    ],
)
def test_paths_the_gateway_keeps(path: str) -> None:
    assert upstream_for(path) is None
