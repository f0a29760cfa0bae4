"""Request and response bodies of /v1/stamps."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field

from services.stamps.batches.schemas import LOT_PATTERN
from shared.schemas import BaseSchema, ReadSchema

Action = Literal["issue", "activate", "suspend", "unsuspend", "revoke", "void"]
StampState = Literal["reserved", "issued", "active", "suspended", "revoked", "void"]
MAX_SERIALS = 10_000


class StampChangeRequest(BaseSchema):
    """Which stamps (exactly one of a list of serials and a whole batch) and why; for activation, the lot and dates."""

    serials: Annotated[
        list[str] | None,
        Field(min_length=1, max_length=MAX_SERIALS, description="1 … 10,000 serials (all or nothing)"),
    ] = None
    batch_id: Annotated[
        uuid.UUID | None, Field(description="Every stamp of the batch in a state the action starts from")
    ] = None
    reason: Annotated[str | None, Field(min_length=3, max_length=1000)] = None
    lot: Annotated[str | None, Field(pattern=LOT_PATTERN, description="activate: GS1 AI 10 lot")] = None
    production_date: Annotated[date | None, Field(description="activate: not after tomorrow")] = None
    expiry_date: Annotated[date | None, Field(description="activate: on or after the production date")] = None
    location_id: Annotated[
        uuid.UUID | None,
        Field(
            description="activate: one of the producer's registered sites, the events' readPoint and bizLocation"
        ),
    ] = None


class StampChangeRead(ReadSchema):
    """What one operation did: how many stamps were asked for, moved, already there, or skipped."""

    change_id: int
    action: Action
    requested: int
    changed: int
    unchanged: int = Field(description="Already in the target state")
    skipped: int = Field(description="batch_id: stamps in a state the action does not start from")
    by_state: dict[str, int] = Field(description="How many of the selected stamps were in each state before")


ChangeStatus = Literal["queued", "running", "done", "failed"]


class ChangeProgress(ReadSchema):
    """How far a change is: stamps of the batch passed of all of them, the rate so far and the time left."""

    done: int
    total: int
    rate_per_s: float | None
    eta_s: float | None


class StampChangeStatusRead(ReadSchema):
    """A lifecycle operation as it stands: a whole-batch change runs in the background (queued → running → done)."""

    id: int
    action: Action
    status: ChangeStatus
    batch_id: uuid.UUID | None
    actor: str
    actor_role: str
    reason: str | None
    location_id: uuid.UUID | None
    progress: ChangeProgress
    changed: int
    unchanged: int = Field(description="Already in the target state")
    skipped: int = Field(description="In a state the action does not start from")
    by_state: dict[str, int] = Field(description="How many of the stamps passed were in each state before")
    error: str | None = Field(
        description="failed: why (ask again: the stamps already moved are left as they are)"
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class StampHistoryRead(ReadSchema):
    """One operation that moved the stamp."""

    change_id: int
    action: Action
    actor: str
    actor_role: str
    reason: str | None
    from_state: StampState
    to_state: StampState
    at: datetime


class StampRead(ReadSchema):
    """A stamp and where it stands."""

    serial: str
    state: StampState
    batch_id: uuid.UUID
    product_id: uuid.UUID
    lot: str | None
    production_date: date | None
    expiry_date: date | None
    state_changed_at: datetime
    activated_at: datetime | None
    activated_by: str | None
    state_reason: str | None


class StampDetailRead(StampRead):
    """A stamp with the operations that moved it, oldest first."""

    history: list[StampHistoryRead]
