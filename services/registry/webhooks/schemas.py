"""Webhook subscription bodies and the delivery log's rows."""

from __future__ import annotations

import uuid
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Annotated, Literal

from pydantic import Field, field_validator

from services.registry.catalogue_feed.events import TYPES
from services.registry.webhooks.targets import MAX_URL_LENGTH
from shared.schemas import BaseSchema, ReadSchema

EventPattern = Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[a-z0-9_.*]+$")]
DeliveryStatus = Literal["pending", "delivered", "dead"]


class WebhookCreate(BaseSchema):
    """Where to deliver which catalogue events."""

    url: Annotated[
        str, Field(min_length=1, max_length=MAX_URL_LENGTH, examples=["https://partner.example/ocop"])
    ]
    event_types: Annotated[
        list[EventPattern],
        Field(min_length=1, max_length=20, examples=[["registry.catalogue.*"]],
              description="Catalogue event types, or patterns of them (registry.catalogue.*)"),
    ]  # fmt: skip
    description: Annotated[str | None, Field(max_length=500)] = None

    @field_validator("event_types")
    @classmethod
    def _catalogue_types(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if not any(fnmatchcase(event_type, pattern) for event_type in TYPES):
                raise ValueError(
                    f"{pattern!r} matches none of the catalogue's event types ({', '.join(TYPES)})"
                )
        return list(dict.fromkeys(patterns))


class WebhookRead(ReadSchema):
    """A subscription (its secret is never shown again after it is made or rotated)."""

    id: uuid.UUID
    partner_id: str | None
    url: str
    event_types: list[str]
    description: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    secret_rotated_at: datetime


class WebhookWithSecret(WebhookRead):
    """A subscription just made or given a new secret: the signing secret, shown this once."""

    secret: str | None = Field(
        description="The X-OCOP-Signature secret. Shown once: a replayed request (same Idempotency-Key) omits it."
    )


class WebhookDelivery(ReadSchema):
    """One delivery of one event to the subscription, as the relay last left it."""

    event_id: uuid.UUID
    type: str
    subject: str
    occurred_at: datetime
    status: DeliveryStatus
    attempts: int
    last_status: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
