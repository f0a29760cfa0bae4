"""All SQL touching idea registrations and business plans."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import RowMapping, Table, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.cycle.models import BusinessPlan, IdeaRegistration
from services.registry.policies import Visibility

Record = TypeVar("Record", IdeaRegistration, BusinessPlan)

IDEA_TABLE: Table = IdeaRegistration.__table__  # type: ignore[assignment]
PLAN_TABLE: Table = BusinessPlan.__table__  # type: ignore[assignment]


class CycleRepository:
    """Reads and writes ideas and business plans within the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(
        self, model: type[Record], record_id: uuid.UUID, *, for_update: bool = False
    ) -> Record | None:
        """The idea or plan with this id, if any; row-locked (and re-read) for a state change when asked."""
        return await self.session.get(
            model, record_id, with_for_update=for_update, populate_existing=for_update
        )

    async def plan_of_idea(self, idea_id: uuid.UUID) -> BusinessPlan | None:
        """The business plan written for an idea, if there is one."""
        return await self.session.scalar(select(BusinessPlan).where(BusinessPlan.idea_id == idea_id))

    async def add(self, record: Record) -> Record:
        """Insert an idea or plan and load its server defaults."""
        self.session.add(record)
        await self.session.flush()
        await self.session.refresh(record)
        return record

    async def save(self, record: Record) -> Record:
        """Flush changes and reload server-maintained columns."""
        await self.session.flush()
        await self.session.refresh(record)
        return record

    async def list(
        self,
        table: Table,
        visible: Visibility,
        *,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
        filters: dict[str, Any],
    ) -> Sequence[RowMapping]:
        """A page of ideas or plans the caller may see, newest first (keyset on created_at, id)."""
        columns = table.c
        query = select(table)
        if visible.entity_id:
            query = query.where(columns.entity_id == visible.entity_id)
        if visible.commune_code:
            query = query.where(columns.commune_code == visible.commune_code)
        if visible.province_code:
            query = query.where(columns.province_code == visible.province_code)
        for column, value in filters.items():
            if value is not None:
                query = query.where(columns[column] == value)
        if after:
            query = query.where(tuple_(columns.created_at, columns.id) < tuple_(*after))
        query = query.order_by(columns.created_at.desc(), columns.id.desc()).limit(limit)
        return (await self.session.execute(query)).mappings().all()
