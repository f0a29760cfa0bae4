"""``POST /internal/events`` over the registry's inbox, in-process: each event applied once, or refused whole.

The handler's effect is a row of its own transaction (it emits ``registry.effect.recorded`` into the
registry's outbox), so a rollback is seen in the database, not assumed.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.config import RegistrySettings
from services.registry.db import inbox
from shared.app import create_service_app, database_lifespan
from shared.errors import Conflict
from shared.events.envelope import Envelope
from shared.events.inbox import Inbox
from shared.events.router import events_router
from shared.events.signing import SIGNATURE_HEADER, sign
from tests.conftest import test_jwks
from tests.events.conftest import REGISTRY_OUTBOX
from tests.support.database import TestDatabase

pytestmark = pytest.mark.commits

SECRETS = {"scoring": ["current", "previous"], "stamps": ["stamps-secret"]}
HANDLED = "scoring.certificate.issued"


async def record_effect(session: AsyncSession, envelope: Envelope) -> None:
    """The effect: a row in the same transaction; then fail if the event asks to."""
    await REGISTRY_OUTBOX.emit(
        session,
        type="registry.effect.recorded",
        subject=f"event/{envelope.id}",
        data={"of": str(envelope.id)},
    )
    if envelope.data.get("fail") == "problem":
        raise Conflict("the handler refused this event")
    if envelope.data.get("fail") == "crash":
        raise RuntimeError("the handler failed")


def events_app(database: TestDatabase) -> FastAPI:
    """A service app with the events route over the registry's inbox (and its problem handling)."""
    settings = RegistrySettings(
        database_url=database.urls["registry"], environment="test", jwt_public_keys=test_jwks(),
        access_log=False, log_level="WARNING",
    )  # fmt: skip
    receiving = Inbox(inbox, {HANDLED: record_effect})
    router = events_router(inbox=lambda _request: receiving, secrets=lambda _request: SECRETS)
    return create_service_app(
        name="events-test", title="events test", settings=settings, routers=[router],
        lifespan=database_lifespan("events-test", settings),
    )  # fmt: skip


@pytest.fixture
async def client(database: TestDatabase) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process (a crashing handler answers 500 instead of raising into the test)."""
    app = events_app(database)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry") as opened:
            yield opened


def event(**changes: Any) -> dict[str, Any]:
    """A handled event, as JSON-ready data."""
    return {
        "id": str(uuid.uuid4()), "type": HANDLED, "occurred_at": "2025-03-01T08:00:00+00:00",
        "source": "scoring", "subject": f"product/{uuid.uuid4()}", "data": {"number": "OCOP-91-2025-0001"},
    } | changes  # fmt: skip


async def deliver(
    client: httpx.AsyncClient, body: dict[str, Any] | bytes, *, secret: str | None = "current",  # noqa: S107
    timestamp: int | None = None, idempotency_key: str | None = None,
) -> httpx.Response:  # fmt: skip
    """POST a delivery as a relay does: signed, the event id as Idempotency-Key."""
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SIGNATURE_HEADER] = sign(secret, raw, timestamp=timestamp)
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    elif isinstance(body, dict):
        headers["Idempotency-Key"] = body["id"]
    return await client.post("/internal/events", content=raw, headers=headers)


async def effects(db: asyncpg.Connection, event_id: str) -> int:
    """How many times the handler's effect of ``event_id`` committed."""
    return int(await db.fetchval(
        "SELECT count(*) FROM registry.outbox_event WHERE type = 'registry.effect.recorded' AND data->>'of' = $1",
        event_id,
    ))  # fmt: skip


async def inbox_row(db: asyncpg.Connection, event_id: str) -> asyncpg.Record | None:
    """The inbox's record of ``event_id``."""
    return await db.fetchrow("SELECT * FROM registry.inbox_event WHERE id = $1", uuid.UUID(event_id))


def assert_problem(answer: httpx.Response, status: int, type_suffix: str) -> dict[str, Any]:
    """``answer`` is a problem+json of ``status`` and type; its body."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = answer.json()
    assert problem["type"].endswith(type_suffix), problem
    return problem


async def test_a_signed_delivery_is_applied_once_and_recorded(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """The handler's effect and the inbox row commit together."""
    sent = event()
    answer = await deliver(client, sent)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"id": sent["id"], "outcome": "applied"}
    assert await effects(db, sent["id"]) == 1
    row = await inbox_row(db, sent["id"])
    assert row is not None
    assert (row["type"], row["source"], row["subject"], row["outcome"]) == (
        HANDLED, "scoring", sent["subject"], "applied",
    )  # fmt: skip


async def test_a_delivery_signed_with_the_previous_secret_is_applied(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """During a rotation both secrets are accepted."""
    sent = event()
    assert (await deliver(client, sent, secret="previous")).json()["outcome"] == "applied"
    assert await effects(db, sent["id"]) == 1


async def test_a_redelivery_is_a_duplicate_with_no_second_effect(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """The relay delivers at least once: the second delivery answers 200 "duplicate" and changes nothing."""
    sent = event()
    first, second = await deliver(client, sent), await deliver(client, sent)
    assert first.json()["outcome"] == "applied"
    assert second.status_code == 200
    assert second.json() == {"id": sent["id"], "outcome": "duplicate"}
    assert await effects(db, sent["id"]) == 1


async def test_concurrent_duplicates_apply_once(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    """Two deliveries of one event at the same moment (two relays, a retry racing the first): one effect."""
    sent = event()
    answers = await asyncio.gather(*(deliver(client, sent) for _ in range(4)))
    assert all(answer.status_code == 200 for answer in answers), [answer.text for answer in answers]
    assert sorted(answer.json()["outcome"] for answer in answers) == ["applied", *["duplicate"] * 3]
    assert await effects(db, sent["id"]) == 1


@pytest.mark.parametrize(("failure", "status"), [("problem", 409), ("crash", 500)])
async def test_a_failing_handler_records_nothing_and_the_redelivery_applies(
    client: httpx.AsyncClient, db: asyncpg.Connection, failure: str, status: int
) -> None:
    """The handler's effect and the inbox claim roll back together, so the relay's retry is applied."""
    sent = event(data={"fail": failure})
    answer = await deliver(client, sent)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert await inbox_row(db, sent["id"]) is None
    assert await effects(db, sent["id"]) == 0
    # The producer's fix: the same event id, now handled (a redelivery with the same id).
    fixed = sent | {"data": {}}
    assert (await deliver(client, fixed)).json()["outcome"] == "applied"
    assert await effects(db, sent["id"]) == 1
    assert (await inbox_row(db, sent["id"])) is not None


async def test_an_unsigned_delivery_is_refused_and_nothing_recorded(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """No signature: 401 problem, no inbox row, no effect."""
    sent = event()
    problem = assert_problem(await deliver(client, sent, secret=None), 401, "event-signature-invalid")
    assert SIGNATURE_HEADER in problem["detail"]
    assert await inbox_row(db, sent["id"]) is None
    assert await effects(db, sent["id"]) == 0


async def test_a_badly_signed_delivery_is_refused(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    """Signed with a secret the receiver does not accept, or a body changed after signing: 401."""
    sent = event()
    assert_problem(await deliver(client, sent, secret="stolen"), 401, "event-signature-invalid")
    raw = orjson.dumps(sent)
    tampered = raw.replace(b"OCOP-91", b"OCOP-92")
    answer = await client.post(
        "/internal/events", content=tampered,
        headers={SIGNATURE_HEADER: sign("current", raw), "Content-Type": "application/json"},
    )  # fmt: skip
    assert_problem(answer, 401, "event-signature-invalid")
    assert await inbox_row(db, sent["id"]) is None


async def test_a_source_signs_only_its_own_events(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    """A secret speaks for one source: signed as stamps, an event claiming scoring (by its source or by
    its type's prefix) is refused, 401; signed as stamps, stamps' own event is accepted."""
    as_scoring = event()  # source scoring, type scoring.*, but signed with stamps' secret
    assert_problem(await deliver(client, as_scoring, secret="stamps-secret"), 401, "event-signature-invalid")
    typed_as_scoring = event(source="stamps")  # stamps' own source, but a scoring type
    assert_problem(
        await deliver(client, typed_as_scoring, secret="stamps-secret"), 401, "event-signature-invalid"
    )
    foreign_type = event(type="stamps.stamp.printed")  # source scoring, another service's type
    assert_problem(await deliver(client, foreign_type, secret="current"), 401, "event-signature-invalid")
    own = event(source="stamps", type="stamps.stamp.printed")
    answer = await deliver(client, own, secret="stamps-secret")
    assert answer.json() == {"id": own["id"], "outcome": "ignored"}
    for refused in (as_scoring, typed_as_scoring, foreign_type):
        assert await inbox_row(db, refused["id"]) is None


async def test_a_replay_outside_the_window_is_refused(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """A delivery captured and replayed later (its timestamp older than the window) is refused: 401."""
    sent = event()
    stale = int(time.time()) - 301
    assert_problem(await deliver(client, sent, timestamp=stale), 401, "event-signature-invalid")
    ahead = int(time.time()) + 3600
    assert_problem(await deliver(client, sent, timestamp=ahead), 401, "event-signature-invalid")
    assert await inbox_row(db, sent["id"]) is None


async def test_a_signed_malformed_envelope_is_a_400_naming_the_fields(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Validly signed but not an envelope: 400 problem naming each bad field; nothing recorded."""
    sent = event(subject="product", type="nope")
    problem = assert_problem(await deliver(client, sent), 400, "event-envelope-malformed")
    assert {error["field"] for error in problem["errors"]} == {"body.subject", "body.type"}
    assert await inbox_row(db, sent["id"]) is None
    not_json = assert_problem(
        await deliver(client, b"{oops", idempotency_key="x"), 400, "event-envelope-malformed"
    )
    assert [error["field"] for error in not_json["errors"]] == ["body"]


async def test_an_idempotency_key_that_is_not_the_id_is_a_400(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """The Idempotency-Key header must be the event's id: a mismatch is refused, naming the header."""
    sent = event()
    problem = assert_problem(
        await deliver(client, sent, idempotency_key=str(uuid.uuid4())), 400, "event-envelope-malformed"
    )
    assert [error["field"] for error in problem["errors"]] == ["header.Idempotency-Key"]
    assert await inbox_row(db, sent["id"]) is None


async def test_an_unknown_event_type_is_ignored_and_recorded(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """An event nobody here handles: 200 "ignored", recorded, so its redelivery is a duplicate."""
    sent = event(type="scoring.council.renamed")
    answer = await deliver(client, sent)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"id": sent["id"], "outcome": "ignored"}
    row = await inbox_row(db, sent["id"])
    assert row is not None
    assert row["outcome"] == "ignored"
    assert await effects(db, sent["id"]) == 0
    assert (await deliver(client, sent)).json()["outcome"] == "duplicate"
