"""Recording and reading the audit trail; the one writer of the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import policies
from services.scoring.audit.models import AuditEntry
from services.scoring.audit.repository import AuditRepository
from shared.pagination import KeysetPage, decode_cursor
from shared.security.dependencies import Forbidden, require_authenticated
from shared.security.principal import Principal, Role
from shared.security.scopes import EVERYTHING

AUDIT_READERS = frozenset({Role.admin, Role.province_officer, Role.national})


async def record(
    session: AsyncSession,
    *,
    actor: Principal,
    action: str,
    subject_type: str,
    subject_id: uuid.UUID,
    province_code: str | None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction (so it exists exactly when the change does)."""
    entry = AuditEntry(
        actor_sub=actor.sub, actor_role=actor.role.value, action=action, subject_type=subject_type,
        subject_id=subject_id, province_code=province_code, detail=detail or {},
    )  # fmt: skip
    return await AuditRepository(session).add(entry)


async def list_for_subject(
    session: AsyncSession, *, principal: Principal, subject_id: uuid.UUID, limit: int, cursor: str | None
) -> KeysetPage[AuditEntry]:
    """A record's history: admins, the national client and province officers (their province's records)."""
    require_authenticated(principal)
    if principal.role not in AUDIT_READERS:
        raise Forbidden("Only admins, province officers and the national client read the audit trail")
    visible = policies.visibility(principal) if principal.role is Role.province_officer else EVERYTHING
    return await AuditRepository(session).for_subject(
        visible, subject_id, limit=limit, after=decode_cursor(cursor, datetime, uuid.UUID)
    )
