"""All SQL touching change requests."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from services.registry.changes.models import ChangeRequest
from shared.pagination import KeysetPage
from shared.repository import Repository
from shared.security.scopes import Visibility, visible_condition


class ChangeRequestRepository(Repository[ChangeRequest]):
    """Reads and writes change requests within the caller's transaction."""

    model = ChangeRequest

    async def list(
        self,
        visible: Visibility,
        *,
        status: str | None,
        resource_id: uuid.UUID | None,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
    ) -> KeysetPage[ChangeRequest]:
        """A page of the requests ``visible`` admits, newest first."""
        query = select(ChangeRequest).where(
            visible_condition(
                visible,
                entity=ChangeRequest.entity_id,
                commune=ChangeRequest.commune_code,
                province=ChangeRequest.province_code,
            )
        )
        if status is not None:
            query = query.where(ChangeRequest.status == status)
        if resource_id is not None:
            query = query.where(ChangeRequest.resource_id == resource_id)
        return await self.paginate(
            query,
            keys=(ChangeRequest.created_at, ChangeRequest.id),
            after=after,
            limit=limit,
            descending=True,
        )
