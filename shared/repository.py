"""The repository base every domain package builds on: all of a table's SQL behind one small API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Select, Table, bindparam, column, func, insert, select, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from shared.pagination import KeysetPage, next_page

M = TypeVar("M")


def unnested(name: str, **arrays: tuple[Sequence[Any], Any]) -> Any:
    """Parallel arrays (``column=(values, type)``) as a derived table ``name(column, ...)`` to join against.

    Each array is one bound parameter, so every batch runs the same prepared statement; joined through
    ``unnest()`` the planner probes an index per value (``= ANY($1)`` compares every row with every value).
    """
    parameters = [
        bindparam(f"{name}_{key}", list(values), type_=ARRAY(item_type))
        for key, (values, item_type) in arrays.items()
    ]
    columns = [column(key, item_type) for key, (_, item_type) in arrays.items()]
    return func.unnest(*parameters).table_valued(*columns).render_derived(name=name)


class Repository(Generic[M]):
    """Reads and writes one model within the caller's transaction (it never commits)."""

    model: ClassVar[type[Any]]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, record_id: Any) -> M | None:
        """The record with this primary key, if any."""
        record: M | None = await self.session.get(self.model, record_id)
        return record

    async def get_for_update(self, record_id: Any) -> M | None:
        """The record row-locked for a change, re-read so a concurrent writer's commit is seen."""
        record: M | None = await self.session.get(
            self.model, record_id, with_for_update=True, populate_existing=True
        )
        return record

    async def add(self, record: M) -> M:
        """Insert a record and load its server defaults."""
        self.session.add(record)
        return await self.save(record)

    async def save(self, record: M) -> M:
        """Flush changes to a record and reload its server-maintained columns."""
        await self.session.flush()
        await self.session.refresh(record)
        return record

    async def ids_locked_after(self, after: Any | None, limit: int) -> list[Any]:
        """The next ``limit`` ids in id order after ``after``, share-locked: no write changes them until commit.

        For resending records as they stand: a snapshot built under the lock cannot be overtaken by a
        concurrent change's snapshot with a smaller version.
        """
        key = self.model.id
        query = select(key).order_by(key).limit(limit).with_for_update(read=True)
        if after is not None:
            query = query.where(key > after)
        return list((await self.session.scalars(query)).all())

    async def paginate(
        self,
        query: Select[Any],
        *,
        keys: Sequence[Any],
        after: tuple[Any, ...] | None,
        limit: int,
        descending: bool = False,
        rows: bool = False,
    ) -> KeysetPage[Any]:
        """One keyset page of ``query`` ordered by ``keys`` (unique together) and the next page's cursor.

        Fetches ``limit + 1`` rows: the extra row only says whether another page exists. With ``rows``
        the page holds Core rows (for a select of columns), otherwise the ORM objects selected.
        """
        if after is not None:
            position = tuple_(*keys)
            query = query.where(position < tuple_(*after) if descending else position > tuple_(*after))
        order = [key.desc() for key in keys] if descending else list(keys)
        query = query.order_by(*order).limit(limit + 1)
        names = [key.key for key in keys]
        result = await self.session.execute(query)
        records: Sequence[Any] = result.all() if rows else result.scalars().all()
        return next_page(records, limit, lambda record: [getattr(record, name) for name in names])

    @property
    def table(self) -> Table:
        """The model's table, for set-based statements."""
        table: Table = self.model.__table__
        return table

    async def insert_rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert many rows in batched statements (each row names the same columns)."""
        if rows:
            # RETURNING makes SQLAlchemy send multi-row VALUES ("insertmanyvalues"), not one
            # statement per row: the database does measurably less work.
            await self.session.execute(insert(self.table).returning(self.table.c.id), list(rows))

    async def update_rows(self, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
        """Update rows by ``id`` in one batched statement; each row holds ``id`` and every one of ``columns``."""
        if not rows:
            return
        # Bind names must differ from column names in an UPDATE's SET clause.
        values: dict[str, Any] = {name: bindparam(f"new_{name}") for name in columns}
        if "updated_at" in self.table.c:
            values["updated_at"] = func.now()
        statement = update(self.table).where(self.table.c.id == bindparam("row_id")).values(values)
        parameters = [{"row_id": row["id"], **{f"new_{name}": row[name] for name in columns}} for row in rows]
        await self.session.execute(statement, parameters)

    async def changed_since(self, seen: Mapping[Any, datetime]) -> set[Any]:
        """Row-lock the records ``seen`` names until the transaction ends; the ids of those updated since.

        A batch update checked against rows read without a lock writes only if this returns nothing,
        so a change committed in between is never overwritten unseen.
        """
        if not seen:
            return set()
        locked = unnested("locked", id=(list(seen), self.table.c.id.type))
        query = (
            select(self.table.c.id, self.table.c.updated_at)
            .join(locked, self.table.c.id == locked.c.id)
            .with_for_update(of=self.table)
        )
        rows = (await self.session.execute(query)).all()
        return {row.id for row in rows if row.updated_at != seen[row.id]} | (
            set(seen) - {row.id for row in rows}
        )
