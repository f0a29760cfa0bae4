"""The audit trail's read route: who may read it, and that a record's entries come back in order."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import auth


@pytest.mark.parametrize(
    ("role", "claim", "expected"),
    [
        (None, None, 401),
        ("producer", "3f0c9a4e-8b1d-4c52-9e7a-2d6f1b8c0a11", 403),
        ("commune_officer", "07090", 403),
        ("council_member", "9d2e7b61-4a3c-4f85-b0d9-6e1c2a7f3b44", 403),
        ("partner", "client-1", 403),
        ("province_officer", "22", 200),
        ("national", "client-1", 200),
        ("admin", None, 200),
    ],
)
async def test_who_reads_the_audit_trail(
    scoring_client: httpx.AsyncClient, role: str | None, claim: str | None, expected: int
) -> None:
    """Admins, the national client and province officers read it; the others are refused."""
    headers = auth(role, claim) if role else {}
    response = await scoring_client.get(f"/v1/audit/{uuid.uuid4()}", headers=headers)
    assert response.status_code == expected, response.text
    if expected == 200:
        assert response.json() == {"items": [], "next_cursor": None}


async def test_malformed_cursor_is_a_422(scoring_client: httpx.AsyncClient) -> None:
    """A forged cursor names the query field."""
    response = await scoring_client.get(
        f"/v1/audit/{uuid.uuid4()}", params={"cursor": "bm90LWEtY3Vyc29y"}, headers=auth("admin")
    )
    assert response.status_code == 422
    assert "cursor" in response.text


async def test_scoring_reaches_the_registry_with_its_own_token(scoring_client: httpx.AsyncClient) -> None:
    """The in-process wiring the scoring tests rely on: scoring's service token is accepted by the registry."""
    app = scoring_client._transport.app  # type: ignore[attr-defined]
    answer = await app.state.registry.product(uuid.uuid4())
    assert answer.status == 404
