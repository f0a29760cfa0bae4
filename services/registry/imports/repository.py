"""All SQL touching the import job table (entities and products are written by their own packages)."""

from __future__ import annotations

import typing
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, func, select, update

from services.registry.imports.models import ImportJob
from shared.pagination import KeysetPage
from shared.repository import Repository
from shared.security.scopes import Visibility, visible_condition

JOBS = typing.cast(Table, ImportJob.__table__)
UNFINISHED = ("pending", "validating", "importing")


class ImportJobRepository(Repository[ImportJob]):
    """Reads and writes import jobs within the caller's transaction."""

    model = ImportJob

    async def list(
        self, visible: Visibility, *, limit: int, after: tuple[datetime, uuid.UUID] | None
    ) -> KeysetPage[ImportJob]:
        """A page of the jobs ``visible`` admits (by the unit they were started in), newest first."""
        query = select(ImportJob).where(
            visible_condition(visible, commune=ImportJob.commune_code, province=ImportJob.province_code)
        )
        return await self.paginate(
            query, keys=(ImportJob.created_at, ImportJob.id), after=after, limit=limit, descending=True
        )

    async def set(self, job_id: uuid.UUID, **values: Any) -> None:
        """Change some columns of a job."""
        await self.session.execute(update(JOBS).where(JOBS.c.id == job_id).values(**values))

    async def fail_stalled(self, stalled_for: timedelta, error: dict[str, Any]) -> int:
        """Mark failed every unfinished job with no progress for ``stalled_for``; how many there were."""
        statement = (
            update(JOBS)
            .where(JOBS.c.status.in_(UNFINISHED), JOBS.c.updated_at < func.now() - stalled_for)
            .values(status="failed", finished_at=func.now(), errors=[error])
            .returning(JOBS.c.id)
        )
        return len((await self.session.execute(statement)).all())
