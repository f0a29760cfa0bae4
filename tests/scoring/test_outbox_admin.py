"""/v1/outbox/scoring: administrators read the deliveries of scoring's events and replay dead letters."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.cli import _events
from shared.security.principal import Role
from tests.builders import ADMIN
from tests.conftest import auth
from tests.support.database import TestDatabase

DELIVERIES = "/v1/outbox/scoring/deliveries"
REPLAY = "/v1/outbox/scoring/deliveries/replay"


async def dead_letter(session: AsyncSession, destination: str = "registry") -> uuid.UUID:
    """An event of scoring's whose delivery to ``destination`` gave up after its last attempt."""
    event_id = uuid.uuid4()
    await session.execute(
        text("""INSERT INTO scoring.outbox_event (id, type, source, subject, occurred_at, data, routed_at)
                VALUES (:id, 'scoring.certificate.revoked', 'scoring', :subject, now(), '{}', now())"""),
        {"id": event_id, "subject": f"product/{uuid.uuid4()}"},
    )
    await session.execute(
        text("""INSERT INTO scoring.outbox_delivery (event_id, destination, seq, subject, status, attempts,
                                                      last_status, last_error)
                SELECT id, :destination, seq, subject, 'dead', 15, 503, 'answered 503: down' FROM scoring.outbox_event
                WHERE id = :id"""),
        {"id": event_id, "destination": destination},
    )
    return event_id


async def test_who_reads_and_replays_the_outbox(scoring_client: httpx.AsyncClient) -> None:
    for headers, expected in [
        ({}, 401), (auth(Role.producer, str(uuid.uuid4())), 403), (auth(Role.commune_officer, "22001"), 403),
        (auth(Role.province_officer, "22"), 403), (auth(Role.council_member, str(uuid.uuid4())), 403),
        (auth(Role.partner, "portal"), 403), (auth(Role.national, "vn"), 403), (auth(Role.service, "registry"), 403),
        (ADMIN, 200),
    ]:  # fmt: skip
        listed = await scoring_client.get(DELIVERIES, headers=headers)
        assert listed.status_code == expected, headers
        replayed = await scoring_client.post(REPLAY, json={}, headers=headers)
        assert replayed.status_code == expected, headers
        if expected != 200:
            assert listed.headers["content-type"] == "application/problem+json"


async def test_a_dead_letter_is_listed_and_replayed(
    scoring_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    dead = await dead_letter(session)
    other = await dead_letter(session, destination="stamps")
    listed = (await scoring_client.get(DELIVERIES, params={"status": "dead"}, headers=ADMIN)).json()
    assert {(item["event_id"], item["destination"]) for item in listed["items"]} >= {
        (str(dead), "registry"), (str(other), "stamps"),
    }  # fmt: skip
    [item] = [item for item in listed["items"] if item["event_id"] == str(dead)]
    assert (item["attempts"], item["last_status"], item["last_error"]) == (15, 503, "answered 503: down")
    only = (await scoring_client.post(REPLAY, json={"event_id": str(dead)}, headers=ADMIN)).json()
    assert only == {"replayed": 1}
    pending = (await scoring_client.get(DELIVERIES, params={"status": "pending"}, headers=ADMIN)).json()
    assert [(item["event_id"], item["attempts"]) for item in pending["items"]] == [(str(dead), 0)]
    assert (await scoring_client.post(REPLAY, json={"event_id": str(dead)}, headers=ADMIN)).json() == {
        "replayed": 0
    }
    bad = await scoring_client.post(REPLAY, json={"event_id": "nope"}, headers=ADMIN)
    assert bad.status_code == 422
    assert (await scoring_client.get(DELIVERIES, params={"status": "lost"}, headers=ADMIN)).status_code == 422


async def test_pages_of_deliveries_lose_none(
    scoring_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    made = {
        await dead_letter(session, destination)
        for destination in ("registry", "stamps", "national")
        for _ in "ab"
    }
    seen: list[tuple[str, str]] = []
    cursor = None
    while True:
        params = {"status": "dead", "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await scoring_client.get(DELIVERIES, params=params, headers=ADMIN)).json()
        seen += [(item["event_id"], item["destination"]) for item in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert len(seen) == len(set(seen)) == 6
    assert {uuid.UUID(event_id) for event_id, _ in seen} == made


@pytest.mark.template("relayed")  # the command connects itself; no real process's relay delivers meanwhile
async def test_the_ocop_events_command_replays_dead_letters(database: TestDatabase) -> None:
    from shared.db import Database

    store = Database.connect(database.urls["scoring"], application_name="test", pool_size=1, max_overflow=0)
    try:
        async with store.sessionmaker.begin() as opened:
            dead = await dead_letter(opened)
        assert await _events(database.urls["scoring"], "scoring", "dead-letters", None, None) == 0
        assert await _events(database.urls["scoring"], "scoring", "replay", str(dead), "registry") == 0
        async with store.sessionmaker.begin() as opened:
            status = await opened.scalar(
                text("SELECT status FROM scoring.outbox_delivery WHERE event_id = :id"), {"id": dead}
            )
        assert status == "pending"
    finally:
        await store.dispose()
