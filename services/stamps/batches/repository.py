"""Every SQL statement on stamp batches and stamps: the ORM for single batches, asyncpg COPY for serials."""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import select

from services.stamps.batches.models import StampBatch
from services.stamps.db import SCHEMA
from shared.pagination import KeysetPage
from shared.repository import Repository
from shared.security.scopes import Visibility, visible_condition

STAMP_COLUMNS = ("serial", "batch_id", "state", "lot")


class BatchRepository(Repository[StampBatch]):
    """Reads and writes batches within the caller's transaction."""

    model = StampBatch

    async def list(
        self, visible: Visibility, *, status: str | None, product_id: uuid.UUID | None,
        after: tuple[Any, ...] | None, limit: int,
    ) -> KeysetPage[StampBatch]:  # fmt: skip
        """The batches ``visible`` admits, newest first."""
        query = select(StampBatch).where(
            visible_condition(visible, entity=StampBatch.entity_id, province=StampBatch.province_code)
        )
        if status is not None:
            query = query.where(StampBatch.status == status)
        if product_id is not None:
            query = query.where(StampBatch.product_id == product_id)
        return await self.paginate(
            query, keys=(StampBatch.created_at, StampBatch.id), after=after, limit=limit, descending=True
        )

    async def due_for_generation(self, limit: int) -> Sequence[uuid.UUID]:
        """Approved batches, and generations cut short (their process died), oldest first."""
        query = (
            select(StampBatch.id)
            .where(StampBatch.status.in_(("approved", "generating")))
            .order_by(StampBatch.decided_at)
            .limit(limit)
        )
        return (await self.session.scalars(query)).all()


@dataclass(frozen=True)
class Generation:
    """A batch being generated: how many stamps it wants and how many are written already."""

    quantity: int
    generated: int
    lot: str | None


async def lock_generation(connection: asyncpg.Connection, batch_id: uuid.UUID) -> bool:
    """Take the batch's generation lock for this connection's session; False if another process holds it."""
    return bool(
        await connection.fetchval(
            "SELECT pg_try_advisory_lock(hashtext('stamp-batch:' || $1::uuid::text))", batch_id
        )
    )


async def unlock_generation(connection: asyncpg.Connection, batch_id: uuid.UUID) -> None:
    """Release the batch's generation lock."""
    await connection.execute(
        "SELECT pg_advisory_unlock(hashtext('stamp-batch:' || $1::uuid::text))", batch_id
    )


async def start_generation(connection: asyncpg.Connection, batch_id: uuid.UUID) -> Generation | None:
    """Mark an approved batch (or one whose generation was cut short) as generating; None if it is neither."""
    row = await connection.fetchrow(
        f"""UPDATE "{SCHEMA}".stamp_batch
            SET status = 'generating', generation_started_at = coalesce(generation_started_at, now()),
                generation_error = NULL, updated_at = now()
            WHERE id = $1 AND status IN ('approved', 'generating')
            RETURNING quantity, generated, lot""",
        batch_id,
    )
    return Generation(row["quantity"], row["generated"], row["lot"]) if row else None


async def write_stamps(
    connection: asyncpg.Connection, batch_id: uuid.UUID, serials: Sequence[str], lot: str | None
) -> None:
    """COPY one chunk of new stamps (reserved) and count them on the batch, in one transaction.

    Text COPY, one line per serial: every column but the serial is the same for the whole chunk, so the
    chunk's text is one C-level join (serials are [0-9A-Z], lots CSET 82 without tab or backslash).
    """
    rest = f"\t{batch_id}\treserved\t{_copy_text(lot)}\n"
    text = rest.join(serials) + rest
    async with connection.transaction():
        await connection.copy_to_table(
            "stamp",
            schema_name=SCHEMA,
            columns=STAMP_COLUMNS,
            source=io.BytesIO(text.encode()),
            format="text",
        )
        await connection.execute(
            f'UPDATE "{SCHEMA}".stamp_batch SET generated = generated + $2, updated_at = now() WHERE id = $1',
            batch_id, len(serials),
        )  # fmt: skip


def _copy_text(value: str | None) -> str:
    """A value in COPY's text format: NULL as \\N; CSET 82 holds no tab, newline or backslash to escape."""
    return "\\N" if value is None else value


async def finish_generation(
    connection: asyncpg.Connection, batch_id: uuid.UUID, *, error: str | None
) -> None:
    """The batch's generation ended: generated, or failed with the reason (it may be resumed)."""
    await connection.execute(
        f"""UPDATE "{SCHEMA}".stamp_batch
            SET status = CASE WHEN $2::text IS NULL THEN 'generated' ELSE 'failed' END,
                generation_finished_at = now(), generation_error = $2, updated_at = now()
            WHERE id = $1 AND status = 'generating'""",
        batch_id, error,
    )  # fmt: skip
