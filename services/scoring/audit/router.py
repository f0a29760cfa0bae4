"""HTTP routes of /v1/audit."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.scoring.audit import service
from services.scoring.audit.schemas import AuditEntryRead
from shared.db import SessionDep
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from shared.schemas import Page, page_of, problems
from shared.security.dependencies import PrincipalDep

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("/{subject_id}", response_model=Page[AuditEntryRead], responses=problems(401, 403))
async def audit_list(
    subject_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[AuditEntryRead]:
    """Who did what to a record (application, round, result, certificate, sheet), oldest first."""
    page = await service.list_for_subject(
        session, principal=principal, subject_id=subject_id, limit=limit, cursor=cursor
    )
    return page_of(AuditEntryRead, page)
