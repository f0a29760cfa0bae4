"""The last two scorecards of a pass arriving together, in two real transactions: exactly one result."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest

from shared.db import asyncpg_dsn
from tests import builders
from tests.builders import ADMIN
from tests.support.database import TestDatabase

WAIT_LIMIT_S = 30.0
# What each waiting session waits for: a table (its name) or another transaction's end.
WAITS = """
    SELECT coalesce(l.relation::regclass::text, l.locktype) AS waits_for
    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE a.datname = current_database() AND NOT l.granted AND a.pid <> pg_backend_pid()
    ORDER BY 1
"""


async def _waits(connection: asyncpg.Connection) -> list[str]:
    """What the other sessions wait for (a fresh look: in a transaction the statistics are otherwise kept)."""
    await connection.execute("SELECT pg_stat_clear_snapshot()")
    return [row["waits_for"] for row in await connection.fetch(WAITS)]


async def _both_waiting(
    connection: asyncpg.Connection, requests: list[asyncio.Task[httpx.Response]]
) -> list[str]:
    """What the two requests wait for, once both wait (or nothing, if they have already answered)."""
    async with asyncio.timeout(WAIT_LIMIT_S):
        while True:
            waits = await _waits(connection)
            if len(waits) >= 2 or all(request.done() for request in requests):
                return waits
            await asyncio.sleep(0.01)


@pytest.mark.commits  # two requests race in transactions of their own
async def test_the_last_two_cards_together_record_exactly_one_result(
    registry_client: httpx.AsyncClient,
    scoring_client: httpx.AsyncClient,
    db: asyncpg.Connection,
    database: TestDatabase,
) -> None:
    """The second card waits for the first's transaction, sees its card, and decides the pass: once."""
    made = await builders.dossier(registry_client, scoring_client, db)
    await builders.eligible(scoring_client, made)
    staged = await builders.in_scoring(scoring_client, made)
    first, second, third = staged.council.scorers
    await builders.scorecard(scoring_client, staged, first, builders.choices_for(staged.tree, 80))

    # Hold the audit log: a request stops at its first audit entry, after writing its card and before
    # counting the pass's cards, so both requests are inside their transactions at the worst moment.
    # Without the application row lock each would hold an uncommitted card and wait here, each could
    # count two cards of three, and neither decide.
    blocker = await asyncpg.connect(asyncpg_dsn(database.urls["scoring"]))
    try:
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute("LOCK TABLE scoring.audit_entry IN SHARE MODE")
        cards = [
            asyncio.create_task(
                scoring_client.post(
                    f"{made.url}/scorecards",
                    json={"choices": builders.choices_for(staged.tree, 82)},
                    headers=staged.council.member(sub),
                )
            )
            for sub in (second, third)
        ]
        waits = await _both_waiting(blocker, cards)
        await transaction.rollback()
        answers = await asyncio.gather(*cards)
    finally:
        await blocker.close()

    # One request holds the application row and waits for the audit log; the other waits for its
    # transaction to end (the row lock), not past it.
    assert waits == ["scoring.audit_entry", "transactionid"]
    assert [answer.status_code for answer in answers] == [201, 201], [answer.text for answer in answers]
    results = (await scoring_client.get(f"{made.url}/results", headers=ADMIN)).json()
    assert len(results) == 1
    assert (results[0]["members_scored"], results[0]["pass_number"]) == (3, 1)
    application = (await scoring_client.get(made.url, headers=ADMIN)).json()
    assert application["status"] == "recognised"
    entries = (await scoring_client.get(f"/v1/audit/{made.id}", headers=ADMIN)).json()["items"]
    actions = [entry["action"] for entry in entries]
    assert (actions.count("application.scorecard_submitted"), actions.count("application.decided")) == (3, 1)
