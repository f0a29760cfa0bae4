"""Bodies of the EPCIS capture interface (EPCIS 2.0 REST binding: the capture job's field names)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CaptureError(BaseModel):
    """One problem of a capture: where (a JSON pointer into the document) and what."""

    field: str
    message: str


class CaptureJobRead(BaseModel):
    """A capture job as the standard shows it: running × success, and the errors found."""

    model_config = ConfigDict(populate_by_name=True)

    capture_id: str = Field(serialization_alias="captureID", validation_alias="captureID")
    created_at: datetime = Field(serialization_alias="createdAt", validation_alias="createdAt")
    finished_at: datetime | None = Field(serialization_alias="finishedAt", validation_alias="finishedAt")
    running: bool
    success: bool
    capture_error_behaviour: str = Field(
        serialization_alias="captureErrorBehaviour", validation_alias="captureErrorBehaviour"
    )
    errors: list[CaptureError]
    event_count: int = Field(serialization_alias="eventCount", validation_alias="eventCount")
    size_bytes: int = Field(serialization_alias="sizeBytes", validation_alias="sizeBytes")

    @classmethod
    def of(cls, job: Any) -> CaptureJobRead:
        """The job's standard view."""
        running = job.status == "running"
        errors: list[Any] = job.errors or []
        return cls.model_validate(
            {
                "captureID": str(job.id), "createdAt": job.created_at, "finishedAt": job.finished_at,
                "running": running, "success": job.status == "success" or (running and not errors),
                "captureErrorBehaviour": job.error_behaviour, "errors": errors, "eventCount": job.event_count,
                "sizeBytes": job.size_bytes,
            }
        )  # fmt: skip


class CaptureJobPage(BaseModel):
    """A page of capture jobs, newest first."""

    items: list[CaptureJobRead]
    next_cursor: str | None = None


class EventCaptured(BaseModel):
    """The answer to ``POST /epcis/events``: the event's id (given, or assigned) and whether it was new."""

    model_config = ConfigDict(populate_by_name=True)

    event_id: str = Field(serialization_alias="eventID", validation_alias="eventID")
    stored: bool
