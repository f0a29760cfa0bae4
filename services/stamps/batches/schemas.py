"""Request and response bodies of /v1/stamp-batches."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from shared.schemas import BaseSchema, NotBool, ReadSchema

BatchStatus = Literal["requested", "approved", "rejected", "generating", "generated", "failed"]
# AI 10 (batch/lot): CSET 82 — restricted here to what a QR code holds in alphanumeric mode.
LOT_PATTERN = r"^[0-9A-Z\-./]{1,20}$"


class BatchCreate(BaseSchema):
    """A producer's request for stamps of one of its certified products."""

    product_id: uuid.UUID
    quantity: Annotated[int, NotBool, Field(ge=1, description="How many stamps (at most STAMPS_MAX_BATCH)")]
    lot: Annotated[
        str | None,
        Field(
            pattern=LOT_PATTERN,
            description="Optional lot (GS1 AI 10): upper case, digits, - . /",
            examples=["L2407A"],
        ),
    ] = None


class BatchDecision(BaseSchema):
    """An officer's rejection of a batch, with its reason."""

    reason: Annotated[str, Field(min_length=3, max_length=1000)]


class Progress(ReadSchema):
    """How far the generation is: done of total, the rate so far and the time left at that rate."""

    done: int
    total: int
    rate_per_s: float | None
    eta_s: float | None


class BatchRead(ReadSchema):
    """A stamp batch and where it stands."""

    id: uuid.UUID
    product_id: uuid.UUID
    entity_id: uuid.UUID
    province_code: str
    gtin: str
    lot: str | None
    quantity: int
    status: BatchStatus
    requested_by: str
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    generation_error: str | None
    created_at: datetime
    progress: Progress
