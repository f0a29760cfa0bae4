"""Creating POSTs of councils, rounds, dossiers and scorecards are safe to retry with an Idempotency-Key."""

from __future__ import annotations

import asyncpg
import httpx

from tests import builders
from tests.builders import ADMIN


async def test_a_retried_dossier_is_opened_once(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """The same key replays the first 201 (and Location); without a key the retry is a 409."""
    owner = await builders.producer(registry_client, db)
    product = await builders.product(registry_client, owner)
    body = {"product_id": product["id"], "type": "new"}
    headers = {**owner.headers, "Idempotency-Key": "mo-ho-so-0001"}
    first = await scoring_client.post("/v1/applications", json=body, headers=headers)
    again = await scoring_client.post("/v1/applications", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert (again.headers["idempotent-replayed"], again.headers["location"]) == (
        "true",
        first.headers["location"],
    )
    listed = await scoring_client.get("/v1/applications", params={"product_id": product["id"]}, headers=ADMIN)
    assert [item["id"] for item in listed.json()["items"]] == [first.json()["id"]]
    other_body = await scoring_client.post(
        "/v1/applications", json={**body, "type": "re_rating"}, headers=headers
    )
    assert (other_body.status_code, other_body.json()["type"]) == (422, "/problems/idempotency-key-reused")


async def test_a_retried_scorecard_is_counted_once(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """A member whose answer was lost retries with the same key: the first card comes back, one card kept."""
    made = await builders.dossier(registry_client, scoring_client, db)
    await builders.eligible(scoring_client, made)
    staged = await builders.in_scoring(scoring_client, made)
    member = staged.council.scorers[1]
    headers = {**staged.council.member(member), "Idempotency-Key": "phieu-cham-0001"}
    body = {"choices": builders.choices_for(staged.tree, 80)}
    first = await scoring_client.post(f"{made.url}/scorecards", json=body, headers=headers)
    again = await scoring_client.post(f"{made.url}/scorecards", json=body, headers=headers)
    assert (first.status_code, again.status_code, again.json()) == (201, 201, first.json())
    mine = (await scoring_client.get(f"{made.url}/scorecards", headers=staged.council.member(member))).json()
    assert [card["id"] for card in mine] == [first.json()["id"]]


async def test_retried_councils_and_rounds_are_created_once(scoring_client: httpx.AsyncClient) -> None:
    """A council and a round created twice with the same key exist once."""
    headers = {**ADMIN, "Idempotency-Key": "hoi-dong-0001"}
    body = {"name": "Hội đồng OCOP trung ương", "level": "central"}
    first = await scoring_client.post("/v1/councils", json=body, headers=headers)
    again = await scoring_client.post("/v1/councils", json=body, headers=headers)
    assert again.json()["id"] == first.json()["id"]
    round_body = {"council_id": first.json()["id"], "name": "Đợt 1 năm 2027", "cut_off": "2027-03-30"}
    round_headers = {**ADMIN, "Idempotency-Key": "dot-danh-gia-0001"}
    opened = await scoring_client.post("/v1/rounds", json=round_body, headers=round_headers)
    reopened = await scoring_client.post("/v1/rounds", json=round_body, headers=round_headers)
    assert reopened.json()["id"] == opened.json()["id"]
    rounds = (
        await scoring_client.get("/v1/rounds", params={"council_id": first.json()["id"]}, headers=ADMIN)
    ).json()
    assert [item["id"] for item in rounds["items"]] == [opened.json()["id"]]
