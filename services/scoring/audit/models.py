"""The audit log's table: one row per transition or decision, never updated."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.scoring.db import Base
from shared.models import CreatedAt, UUIDPrimaryKey


class AuditEntry(UUIDPrimaryKey, CreatedAt, Base):
    """What happened to one record: the actor, the action, the record, the details and where it belongs."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_subject", "subject_id", "created_at"),)

    actor_sub: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(80))
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    # The province the record belongs to (None: national records such as criteria), for officers' reads.
    province_code: Mapped[str | None] = mapped_column(String(2))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
