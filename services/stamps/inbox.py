"""The events the stamps service consumes, and the service function each one calls."""

from __future__ import annotations

from services.stamps.db import inbox
from services.stamps.snapshot import service as snapshot
from shared.events.inbox import Handler, Inbox

CERTIFICATE_EVENTS = ("issued", "superseded", "expiring", "expired", "revoked")

HANDLERS: dict[str, Handler] = {
    "registry.product.updated": snapshot.apply_product_event,
    "registry.entity.updated": snapshot.apply_entity_event,
    **{f"scoring.certificate.{change}": snapshot.apply_certificate_event for change in CERTIFICATE_EVENTS},
}

INBOX = Inbox(inbox, HANDLERS)
