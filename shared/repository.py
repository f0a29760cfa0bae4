"""The repository base every domain package builds on: all of a table's SQL behind one small API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from shared.pagination import KeysetPage, next_page

M = TypeVar("M")


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
