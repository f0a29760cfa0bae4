"""The webhook_subscription table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, TIMESTAMP
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.db import Base
from shared.models import Timestamps, UUIDPrimaryKey


class WebhookSubscription(UUIDPrimaryKey, Timestamps, Base):
    """A partner's subscription: where its catalogue events go and the secret they are signed with."""

    __tablename__ = "webhook_subscription"

    # The partner (its token's scope) that owns it; null for one an administrator made for the platform.
    partner_id: Mapped[str | None] = mapped_column(String(200), index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(Text)
    # Event types or shell-style patterns (registry.catalogue.*).
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(120)))
    description: Mapped[str | None] = mapped_column(Text)
    # The signing secret sealed under the deployment's key (webhooks/sealing.py), never in clear.
    secret_sealed: Mapped[str] = mapped_column(Text)
    secret_rotated_at: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True), server_default=func.now())
