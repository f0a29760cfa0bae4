"""Import job table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Index, Integer, String
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.db import Base
from shared.models import Timestamps, UUIDPrimaryKey


class ImportJob(UUIDPrimaryKey, Timestamps, Base):
    """One uploaded file being validated and imported; clients poll it for progress."""

    # updated_at moves with every progress update: a running job whose clock stopped was interrupted.
    __tablename__ = "import_job"
    __table_args__ = (
        CheckConstraint("kind IN ('entities', 'products')", name="kind"),
        CheckConstraint("file_format IN ('csv', 'xlsx')", name="file_format"),
        CheckConstraint(
            "status IN ('pending', 'validating', 'importing', 'succeeded', 'failed')", name="status"
        ),
        # A unit's jobs, newest first (the job list an officer sees).
        Index("ix_import_job_scope_created_at", "created_by_role", "scope", "created_at"),
    )

    kind: Mapped[str] = mapped_column(String(20))
    file_format: Mapped[str] = mapped_column(String(10))
    filename: Mapped[str | None] = mapped_column(String(255))
    valid_rows_only: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    total: Mapped[int | None] = mapped_column(Integer)
    # Rows checked so far by the validation pass (done counts the rows of the writing pass).
    validated: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    done: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    invalid: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")
    created_by: Mapped[str] = mapped_column(String(120))
    created_by_role: Mapped[str] = mapped_column(String(30))
    scope: Mapped[str | None] = mapped_column(String(60))
    # The unit the job was started in (its officer's commune and province): who else may see it.
    commune_code: Mapped[str | None] = mapped_column(String(10))
    province_code: Mapped[str | None] = mapped_column(String(10), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(TIMESTAMP(timezone=True))
