"""All SQL touching the import job table (entities and products are written by their own packages)."""

from __future__ import annotations

import typing
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, func, select, update

from services.registry.imports.models import ImportJob
from shared.pagination import KeysetPage
from shared.repository import Repository

JOBS = typing.cast(Table, ImportJob.__table__)
UNFINISHED = ("pending", "validating", "importing")


@dataclass(frozen=True)
class JobFilter:
    """Which jobs a caller may see: all (admins) or those of one role and unit."""

    created_by_role: str | None = None
    scope: str | None = None


class ImportJobRepository(Repository[ImportJob]):
    """Reads and writes import jobs within the caller's transaction."""

    model = ImportJob

    async def list(
        self, visible: JobFilter, *, limit: int, after: tuple[datetime, uuid.UUID] | None
    ) -> KeysetPage[ImportJob]:
        """A page of the jobs a caller may see, newest first."""
        query = select(ImportJob)
        if visible.created_by_role is not None:
            query = query.where(
                ImportJob.created_by_role == visible.created_by_role, ImportJob.scope == visible.scope
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
