"""All SQL touching idea registrations and business plans."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import select

from services.registry.cycle.models import BusinessPlan, IdeaRegistration
from shared.pagination import KeysetPage
from shared.repository import Repository
from shared.security.scopes import Visibility, visible_condition

Record = TypeVar("Record", IdeaRegistration, BusinessPlan)


class _ReviewRepository(Repository[Record], Generic[Record]):
    """What ideas and plans share: a lockable record and a newest-first listing of the visible ones."""

    async def list(
        self,
        visible: Visibility,
        *,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
        filters: dict[str, Any],
    ) -> KeysetPage[Record]:
        """A page of the records ``visible`` admits, newest first (keyset on created_at, id)."""
        model = self.model
        query = select(model).where(
            visible_condition(
                visible, entity=model.entity_id, commune=model.commune_code, province=model.province_code
            )
        )
        for column, value in filters.items():
            if value is not None:
                query = query.where(getattr(model, column) == value)
        return await self.paginate(
            query, keys=(model.created_at, model.id), after=after, limit=limit, descending=True
        )


class IdeaRepository(_ReviewRepository[IdeaRegistration]):
    """Reads and writes idea registrations within the caller's transaction."""

    model = IdeaRegistration


class BusinessPlanRepository(_ReviewRepository[BusinessPlan]):
    """Reads and writes business plans within the caller's transaction."""

    model = BusinessPlan

    async def plan_of_idea(self, idea_id: uuid.UUID) -> BusinessPlan | None:
        """The business plan written for an idea, if there is one."""
        return await self.session.scalar(select(BusinessPlan).where(BusinessPlan.idea_id == idea_id))
