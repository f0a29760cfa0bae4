"""Request and response bodies of /v1/anomalies."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from shared.schemas import BaseSchema, ReadSchema

AnomalyStatus = Literal["open", "resolved"]
RuleId = Literal["R1", "R5", "R6", "R7", "R8", "R9", "R10", "R11"]


class AnomalyResolve(BaseSchema):
    """An officer's conclusion on an anomaly."""

    note: Annotated[str, Field(min_length=3, max_length=2000, description="What was found and done")]


class AnomalyRead(ReadSchema):
    """A counterfeit signal: the rule, the scan it fired on, the figures behind it and its review."""

    id: uuid.UUID
    rule: str
    score: int
    serial: str | None
    batch_id: uuid.UUID | None
    product_id: uuid.UUID | None
    entity_id: uuid.UUID | None
    province_code: str | None
    scan_id: int | None
    scanned_at: datetime | None
    detail: dict[str, Any]
    status: AnomalyStatus
    resolved_by: str | None
    resolved_at: datetime | None
    resolution_note: str | None
    created_at: datetime


@dataclass(frozen=True)
class AnomalyFilter:
    """What a listing of the queue is narrowed to."""

    status: str | None = None
    rule: str | None = None
    province_code: str | None = None
    serial: str | None = None
    since: datetime | None = None
