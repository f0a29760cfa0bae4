"""Audit entries as the API shows them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from shared.schemas import ReadSchema


class AuditEntryRead(ReadSchema):
    """One thing that happened to a record."""

    id: uuid.UUID
    created_at: datetime
    actor_sub: str
    actor_role: str
    action: str
    subject_type: str
    subject_id: uuid.UUID
    province_code: str | None
    detail: dict[str, Any]
