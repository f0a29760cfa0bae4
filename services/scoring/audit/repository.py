"""Every SQL statement on the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from services.scoring.audit.models import AuditEntry
from shared.pagination import KeysetPage
from shared.repository import Repository
from shared.security.scopes import Visibility, visible_condition


class AuditRepository(Repository[AuditEntry]):
    """Appends to and reads the audit log within the caller's transaction."""

    model = AuditEntry

    async def for_subject(
        self,
        visible: Visibility,
        subject_id: uuid.UUID,
        *,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
    ) -> KeysetPage[AuditEntry]:
        """A page of one record's entries, oldest first, as far as ``visible`` admits."""
        query = select(AuditEntry).where(
            AuditEntry.subject_id == subject_id,
            visible_condition(visible, province=AuditEntry.province_code),
        )
        return await self.paginate(
            query, keys=(AuditEntry.created_at, AuditEntry.id), after=after, limit=limit
        )
