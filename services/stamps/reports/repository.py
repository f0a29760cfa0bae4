"""Every SQL statement of consumer reports."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from services.stamps.reports.models import ConsumerReport
from services.stamps.reports.schemas import ReportFilter
from shared.pagination import KeysetPage
from shared.repository import Repository
from shared.security.scopes import Visibility, visible_condition


class ReportRepository(Repository[ConsumerReport]):
    """Reads and writes consumer reports within the caller's transaction."""

    model = ConsumerReport

    async def list(
        self,
        visible: Visibility,
        where: ReportFilter,
        *,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> KeysetPage[ConsumerReport]:
        """The reports ``visible`` admits, newest first."""
        query = select(ConsumerReport).where(
            visible_condition(visible, entity=ConsumerReport.entity_id, province=ConsumerReport.province_code)
        )
        for column, value in (
            (ConsumerReport.status, where.status), (ConsumerReport.province_code, where.province_code),
            (ConsumerReport.serial, where.serial),
        ):  # fmt: skip
            if value is not None:
                query = query.where(column == value)
        return await self.paginate(
            query,
            keys=(ConsumerReport.created_at, ConsumerReport.id),
            after=after,
            limit=limit,
            descending=True,
        )

    async def photo(self, report_id: uuid.UUID) -> bytes | None:
        """The bytes of the report's photo."""
        photo: bytes | None = await self.session.scalar(
            select(ConsumerReport.photo).where(ConsumerReport.id == report_id)
        )
        return photo
