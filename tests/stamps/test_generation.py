"""Generating a batch's stamps: every serial valid and unique, written in chunks, resumable, redrawn on a clash."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.stamps.batches import runner
from shared import gs1
from shared.db import asyncpg_dsn
from tests.support.database import TestDatabase

pytestmark = pytest.mark.commits  # the runner commits a transaction per chunk


@pytest.fixture
async def stamps_db(database: TestDatabase) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the stamps service's role."""
    connection = await asyncpg.connect(asyncpg_dsn(database.urls["stamps"]))
    try:
        yield connection
    finally:
        await connection.close()


async def batch(connection: asyncpg.Connection, quantity: int, *, status: str = "approved", lot: str | None = None,
                generated: int = 0) -> uuid.UUID:  # fmt: skip
    """A batch of ``quantity`` stamps in ``status``."""
    batch_id = uuid.uuid4()
    await connection.execute(
        """INSERT INTO stamps.stamp_batch (id, product_id, entity_id, province_code, gtin, lot, quantity, status,
                                           requested_by, generated)
           VALUES ($1, $2, $3, '22', '08934567000017', $4, $5, $6, 'producer', $7)""",
        batch_id, uuid.uuid4(), uuid.uuid4(), lot, quantity, status, generated,
    )  # fmt: skip
    return batch_id


async def test_a_batch_is_generated_in_chunks_with_valid_unique_serials(
    stamps_db: asyncpg.Connection,
) -> None:
    batch_id = await batch(stamps_db, 2_500, lot="L2407A")
    assert await runner.generate(stamps_db, batch_id, chunk=1_000) == 2_500
    row = await stamps_db.fetchrow(
        "SELECT status, generated, generation_finished_at FROM stamps.stamp_batch WHERE id = $1", batch_id
    )
    assert (row["status"], row["generated"]) == ("generated", 2_500)
    assert row["generation_finished_at"] is not None
    stamps = await stamps_db.fetch(
        "SELECT serial, state, lot FROM stamps.stamp WHERE batch_id = $1", batch_id
    )
    assert len(stamps) == len({stamp["serial"] for stamp in stamps}) == 2_500
    assert {(stamp["state"], stamp["lot"]) for stamp in stamps} == {("reserved", "L2407A")}
    assert all(gs1.serial_problem(stamp["serial"]) is None for stamp in stamps)
    # Generated once: running it again writes nothing.
    assert await runner.generate(stamps_db, batch_id) == 0


@pytest.mark.parametrize("status", ["requested", "rejected", "generated"])
async def test_only_an_approved_batch_is_generated(stamps_db: asyncpg.Connection, status: str) -> None:
    batch_id = await batch(stamps_db, 10, status=status)
    assert await runner.generate(stamps_db, batch_id) == 0
    assert await stamps_db.fetchval("SELECT count(*) FROM stamps.stamp WHERE batch_id = $1", batch_id) == 0


async def test_a_generation_cut_short_resumes_where_it_stopped(stamps_db: asyncpg.Connection) -> None:
    batch_id = await batch(stamps_db, 1_200, status="generating", generated=500)
    await stamps_db.copy_records_to_table(
        "stamp", schema_name="stamps", columns=("serial", "batch_id", "state"),
        records=[(serial, batch_id, "reserved") for serial in gs1.new_serials(500)],
    )  # fmt: skip
    assert await runner.generate(stamps_db, batch_id, chunk=400) == 700
    assert (
        await stamps_db.fetchval("SELECT count(*) FROM stamps.stamp WHERE batch_id = $1", batch_id) == 1_200
    )


async def test_a_serial_that_exists_already_makes_its_chunk_drawn_again(
    stamps_db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = await batch(stamps_db, 1)
    assert await runner.generate(stamps_db, taken) == 1
    existing = await stamps_db.fetchval("SELECT serial FROM stamps.stamp WHERE batch_id = $1", taken)
    draws: list[int] = []
    real = gs1.new_serials

    def clashing_once(count: int) -> list[str]:
        draws.append(count)
        serials = real(count)
        return [existing, *serials[1:]] if len(draws) == 1 else serials

    monkeypatch.setattr(gs1, "new_serials", clashing_once)
    batch_id = await batch(stamps_db, 300)
    assert await runner.generate(stamps_db, batch_id, chunk=300) == 300
    assert draws == [300, 300]
    assert await stamps_db.fetchval("SELECT count(*) FROM stamps.stamp WHERE batch_id = $1", batch_id) == 300
    assert await stamps_db.fetchval("SELECT batch_id FROM stamps.stamp WHERE serial = $1", existing) == taken
