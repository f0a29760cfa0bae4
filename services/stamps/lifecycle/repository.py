"""Every SQL statement on stamps and their audit: set-based, one statement for a whole selection.

The stamp's batch (its producer, province, product, status and lot) is read from ``stamp_batch`` in
the same statements: visibility and the rules of §4.4 are decided per batch, never per row.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ARRAY, BigInteger, Row, String, any_, bindparam, insert, select, text, update

from services.stamps.batches.models import StampBatch
from services.stamps.lifecycle.models import Stamp, StampChange, StampChangeItem
from shared.pagination import KeysetPage
from shared.repository import Repository
from shared.security.scopes import Visibility, visible_condition

HISTORY_LIMIT = 200
# The stamp columns of move's count rows (its stamp rows fill them).
NO_STAMP = (
    "CAST(NULL AS varchar) AS serial, CAST(NULL AS uuid) AS batch_id, CAST(NULL AS varchar) AS lot, "
    "CAST(NULL AS date) AS production_date, CAST(NULL AS date) AS expiry_date"
)
# A whole batch (up to STAMPS_MAX_BATCH stamps) moves in one statement: minutes, not the usual seconds.
BULK_STATEMENT_TIMEOUT = "10min"


@dataclass(frozen=True)
class Transition:
    """One operation's move: from which states to which, and what it writes on each stamp moved."""

    change_id: int
    from_states: tuple[str, ...]
    to_state: str
    reason: str | None
    at: datetime
    activation: Activation | None = None


@dataclass(frozen=True)
class Activation:
    """What activation binds to each stamp: who, the lot (None keeps the batch's) and the dates."""

    actor: str
    lot: str | None
    production_date: date | None
    expiry_date: date | None


@dataclass(frozen=True)
class Moved:
    """How many selected stamps were in each state before, and how many moved from each state."""

    before: dict[str, int]
    moved: dict[str, int]
    # With ``with_stamps``: each stamp moved (serial, batch_id, lot, production_date, expiry_date), in serial order.
    stamps: list[Any] = field(default_factory=list)


def _stamp_columns() -> tuple[Any, ...]:
    return (
        Stamp.serial, Stamp.state, Stamp.batch_id, StampBatch.product_id, Stamp.lot, Stamp.production_date,
        Stamp.expiry_date, Stamp.state_changed_at, Stamp.activated_at, Stamp.activated_by, Stamp.state_reason,
        StampBatch.entity_id, StampBatch.province_code,
    )  # fmt: skip


class StampRepository(Repository[Stamp]):
    """Reads and writes stamps and their changes within the caller's transaction."""

    model = Stamp

    async def lock_listed(self, serials: Sequence[str]) -> Sequence[Any]:
        """The listed stamps that exist, row-locked in serial order, each with its batch's place and rules."""
        query = (
            select(
                Stamp.serial,
                Stamp.state,
                Stamp.batch_id,
                StampBatch.entity_id,
                StampBatch.province_code,
                StampBatch.product_id,
                StampBatch.status.label("batch_status"),
                StampBatch.lot.label("batch_lot"),
            )
            .join(StampBatch, StampBatch.id == Stamp.batch_id)
            .where(Stamp.serial == any_(bindparam("serials", list(serials), type_=ARRAY(String))))
            .order_by(Stamp.serial)
            .with_for_update(of=Stamp)
        )
        return (await self.session.execute(query)).all()

    async def batch(self, batch_id: uuid.UUID) -> Any:
        """A batch's place and what the rules need of it (status, lot, product), or None."""
        query = select(
            StampBatch.id.label("batch_id"), StampBatch.entity_id, StampBatch.province_code, StampBatch.product_id,
            StampBatch.status.label("batch_status"), StampBatch.lot.label("batch_lot"), StampBatch.generated,
        ).where(StampBatch.id == batch_id)  # fmt: skip
        return (await self.session.execute(query)).first()

    async def owners_of_batches(self, batch_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
        """Each batch's GTIN, producer and province (what the EPCIS events of its stamps name)."""
        if not batch_ids:
            return {}
        query = select(StampBatch.id, StampBatch.gtin, StampBatch.entity_id, StampBatch.province_code).where(
            StampBatch.id.in_(list(batch_ids))
        )
        return {row.id: row for row in (await self.session.execute(query)).all()}

    async def lock_batch(self, batch_id: uuid.UUID) -> None:
        """Serialise lifecycle operations on a whole batch (its counts are then one operation's)."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('stamp-lifecycle:' || CAST(:batch AS text)))"),
            {"batch": str(batch_id)},
        )

    async def open_change(
        self, *, action: str, actor: str, actor_role: str, reason: str | None, batch_id: uuid.UUID | None,
        requested: int, at: datetime, activation: Activation | None = None, location_id: uuid.UUID | None = None,
        total: int | None = None,
    ) -> int:  # fmt: skip
        """Record an operation (its count of changed stamps follows with ``close_change``); its id.

        With ``total`` the operation is queued for the background job (it walks the batch's ``total`` stamps).
        """
        values: dict[str, Any] = {
            "action": action, "actor": actor, "actor_role": actor_role, "reason": reason, "batch_id": batch_id,
            "requested": requested, "changed": 0, "created_at": at, "location_id": location_id,
            "status": "done" if total is None else "queued", "total": total,
        }  # fmt: skip
        if activation is not None:
            values |= {"lot": activation.lot, "production_date": activation.production_date,
                       "expiry_date": activation.expiry_date}  # fmt: skip
        change_id: int = (
            await self.session.execute(insert(StampChange).values(values).returning(StampChange.id))
        ).scalar_one()
        return change_id

    async def close_change(
        self, change_id: int, *, changed: int, requested: int, by_state: dict[str, int] | None = None
    ) -> None:
        """Write how many stamps the operation selected and moved (and in which states they were)."""
        await self.session.execute(
            update(StampChange)
            .where(StampChange.id == change_id)
            .values(changed=changed, requested=requested, by_state=by_state)
        )

    async def change(self, change_id: int) -> StampChange | None:
        """One operation, as it stands."""
        return await self.session.get(StampChange, change_id, populate_existing=True)

    async def pending_change(self, batch_id: uuid.UUID) -> StampChange | None:
        """The batch's change queued or running in the background, if any (the batch lock held)."""
        query = select(StampChange).where(
            StampChange.batch_id == batch_id, StampChange.status.in_(("queued", "running"))
        )
        return (await self.session.scalars(query.order_by(StampChange.id).limit(1))).first()

    async def pending_changes(self, limit: int) -> list[int]:
        """Changes queued or running (a process stopped mid-way leaves them running), oldest first."""
        query = (
            select(StampChange.id)
            .where(StampChange.status.in_(("queued", "running")))
            .order_by(StampChange.id)
            .limit(limit)
        )
        return list((await self.session.scalars(query)).all())

    async def lock_pending(self, change_id: int) -> StampChange | None:
        """The change row-locked while it is queued or running; None if done, failed, or locked by another process."""
        query = (
            select(StampChange)
            .where(StampChange.id == change_id, StampChange.status.in_(("queued", "running")))
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(query)).first()

    async def next_serials(self, batch_id: uuid.UUID, *, after: str | None, limit: int) -> list[str]:
        """The batch's next ``limit`` serials after ``after``, in serial order (index ix_stamp_batch_serial)."""
        query = select(Stamp.serial).where(Stamp.batch_id == batch_id).order_by(Stamp.serial).limit(limit)
        if after is not None:
            query = query.where(Stamp.serial > after)
        return list((await self.session.scalars(query)).all())

    async def save_change(self, change: StampChange) -> None:
        """Write a change's progress."""
        self.session.add(change)
        await self.session.flush()

    async def fail_change(self, change_id: int, *, error: str, at: datetime) -> None:
        """A background change stopped on an error: failed, with the reason."""
        await self.session.execute(
            update(StampChange)
            .where(StampChange.id == change_id, StampChange.status.in_(("queued", "running")))
            .values(status="failed", error=error, finished_at=at)
        )

    async def move(
        self,
        transition: Transition,
        *,
        serials: Sequence[str] | None = None,
        batch_id: uuid.UUID | None = None,
        with_stamps: bool = False,
    ) -> Moved:
        """Move the selected stamps in an allowed from-state, with one audit item each: one statement.

        The counts before are read from the same snapshot the update starts from. The old state comes
        from a subquery (an UPDATE's RETURNING sees only the new row); a row another transaction moved
        meanwhile fails the recheck ``s.state = old.state`` and is left alone, so no pass locking every
        row first is needed. With ``with_stamps`` the same statement also returns each stamp moved (what the
        EPCIS events of the move name), so no second pass reads them back. A batch's statement may outlast the service's statement timeout (1,000,000
        rows), so it runs under BULK_STATEMENT_TIMEOUT, restored after it.
        """
        if serials is not None:
            selector = "serial = ANY(CAST(:serials AS varchar[]))"
            parameters: dict[str, Any] = {"serials": list(serials)}
        else:
            selector = "batch_id = CAST(:batch AS uuid)"
            parameters = {"batch": str(batch_id)}
        activation = transition.activation
        activated = ""
        stamps = ""
        if with_stamps:
            stamps = """UNION ALL
                SELECT 'stamp', NULL, NULL, serial, batch_id, lot, production_date, expiry_date FROM moved"""
        if activation is not None:
            activated = """, activated_at = CAST(:at AS timestamptz), activated_by = CAST(:actor AS varchar),
                lot = coalesce(CAST(:lot AS varchar), s.lot), production_date = CAST(:production AS date),
                expiry_date = CAST(:expiry AS date)"""
            parameters |= {"actor": activation.actor, "lot": activation.lot,
                           "production": activation.production_date, "expiry": activation.expiry_date}  # fmt: skip
        statement = text(
            f"""WITH before AS (
                    SELECT state, count(*) AS n FROM stamps.stamp WHERE {selector} GROUP BY state
                ), old AS (
                    SELECT serial, state FROM stamps.stamp
                    WHERE {selector} AND state = ANY(CAST(:from_states AS varchar[]))
                ), moved AS (
                    UPDATE stamps.stamp s
                    SET state = CAST(:to_state AS varchar), state_changed_at = CAST(:at AS timestamptz),
                        state_reason = CAST(:reason AS text), last_change_id = CAST(:change_id AS bigint){activated}
                    FROM old WHERE s.serial = old.serial AND s.state = old.state
                    RETURNING s.serial, old.state AS from_state, s.batch_id, s.lot, s.production_date, s.expiry_date
                ), items AS (
                    INSERT INTO stamps.stamp_change_item (serial, change_id, from_state, to_state)
                    SELECT serial, CAST(:change_id AS bigint), from_state, CAST(:to_state AS varchar) FROM moved
                    RETURNING from_state
                )
                SELECT 'before' AS kind, state, n, {NO_STAMP} FROM before
                UNION ALL
                SELECT 'moved', from_state, count(*), {NO_STAMP} FROM items GROUP BY from_state
                {stamps}"""
        ).bindparams(bindparam("from_states", type_=ARRAY(String)), bindparam("change_id", type_=BigInteger))
        parameters |= {
            "from_states": list(transition.from_states), "to_state": transition.to_state, "at": transition.at,
            "reason": transition.reason, "change_id": transition.change_id,
        }  # fmt: skip
        if serials is not None:
            statement = statement.bindparams(bindparam("serials", type_=ARRAY(String)))
        if batch_id is not None:
            usual = await self.session.scalar(text("SELECT current_setting('statement_timeout')"))
            await self._statement_timeout(BULK_STATEMENT_TIMEOUT)
            rows = (await self.session.execute(statement, parameters)).all()
            # On failure the transaction rolls back, and the local setting with it.
            await self._statement_timeout(str(usual))
        else:
            rows = (await self.session.execute(statement, parameters)).all()
        return Moved(
            {row.state: row.n for row in rows if row.kind == "before"},
            {row.state: row.n for row in rows if row.kind == "moved"},
            sorted((row for row in rows if row.kind == "stamp"), key=lambda row: row.serial),
        )

    async def _statement_timeout(self, value: str) -> None:
        """Set this transaction's statement timeout."""
        await self.session.execute(
            text("SELECT set_config('statement_timeout', :value, true)"), {"value": value}
        )

    async def first_batch_of(self, requested_by: str, batch_id: uuid.UUID | None) -> Any:
        """The oldest batch ``requested_by`` asked for (or ``batch_id``, if theirs), or None."""
        query = select(StampBatch.id, StampBatch.gtin, StampBatch.lot).where(
            StampBatch.requested_by == requested_by
        )
        if batch_id is not None:
            query = query.where(StampBatch.id == batch_id)
        return (
            await self.session.execute(query.order_by(StampBatch.created_at, StampBatch.id).limit(1))
        ).first()

    async def serials_in(self, batch_id: uuid.UUID, state: str, limit: int) -> list[str]:
        """Up to ``limit`` serials of the batch in ``state``, in serial order."""
        query = (
            select(Stamp.serial)
            .where(Stamp.batch_id == batch_id, Stamp.state == state)
            .order_by(Stamp.serial)
            .limit(limit)
        )
        return list((await self.session.scalars(query)).all())

    async def detail(self, serial: str) -> Any:
        """The stamp with its batch's product and place, or None."""
        query = (
            select(*_stamp_columns())
            .join(StampBatch, StampBatch.id == Stamp.batch_id)
            .where(Stamp.serial == serial)
        )
        return (await self.session.execute(query)).first()

    async def history(self, serial: str) -> Sequence[Any]:
        """The operations that moved the stamp, oldest first (at most HISTORY_LIMIT)."""
        query = (
            select(
                StampChange.id.label("change_id"),
                StampChange.action,
                StampChange.actor,
                StampChange.actor_role,
                StampChange.reason,
                StampChangeItem.from_state,
                StampChangeItem.to_state,
                StampChange.created_at.label("at"),
            )
            .join(StampChange, StampChange.id == StampChangeItem.change_id)
            .where(StampChangeItem.serial == serial)
            .order_by(StampChange.id)
            .limit(HISTORY_LIMIT)
        )
        return (await self.session.execute(query)).all()

    async def list(
        self, visible: Visibility, *, batch_id: uuid.UUID | None, state: str | None,
        after: tuple[Any, ...] | None, limit: int,
    ) -> KeysetPage[Row[Any]]:  # fmt: skip
        """The stamps ``visible`` admits (through their batch), in serial order."""
        query = (
            select(*_stamp_columns())
            .join(StampBatch, StampBatch.id == Stamp.batch_id)
            .where(visible_condition(visible, entity=StampBatch.entity_id, province=StampBatch.province_code))
        )
        if batch_id is not None:
            query = query.where(Stamp.batch_id == batch_id)
        if state is not None:
            query = query.where(Stamp.state == state)
        return await self.paginate(query, keys=(Stamp.serial,), after=after, limit=limit, rows=True)
