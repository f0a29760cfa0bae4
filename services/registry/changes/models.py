"""The change_request table."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.db import Base
from shared.models import Timestamps, UUIDPrimaryKey

RESOURCES = ("product", "entity")
STATES = ("pending", "approved", "rejected")


class ChangeRequest(UUIDPrimaryKey, Timestamps, Base):
    """A change to a record's identity, asked by its producer and decided by an officer of its unit."""

    __tablename__ = "change_request"
    __table_args__ = (
        CheckConstraint(f"resource IN {RESOURCES}", name="resource"),
        CheckConstraint(f"status IN {STATES}", name="status"),
        Index("ix_change_request_resource_id", "resource_id"),
        Index("ix_change_request_commune_code", "commune_code"),
    )

    resource: Mapped[str] = mapped_column(String(10))
    resource_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    # Where the record belongs when asked: who may see and decide the request.
    entity_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    commune_code: Mapped[str] = mapped_column(String(10))
    province_code: Mapped[str] = mapped_column(String(10))
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # The values the request would replace, as they were when it was asked.
    previous: Mapped[dict[str, Any]] = mapped_column(JSONB)
    reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    requested_by: Mapped[str] = mapped_column(String(120))
    requested_role: Mapped[str] = mapped_column(String(30))
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(TIMESTAMP(timezone=True))
