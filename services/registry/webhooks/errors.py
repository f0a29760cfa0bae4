"""Webhook errors."""

from __future__ import annotations

from shared.errors import NotFound


class WebhookNotFound(NotFound):
    """No subscription with this id (or none the caller may see)."""

    type = "webhook-not-found"
    title = "Webhook subscription not found"
