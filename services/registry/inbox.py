"""The events the registry consumes, and the service function each one calls."""

from __future__ import annotations

from services.registry.db import inbox
from services.registry.products import service as products
from shared.events.inbox import Handler, Inbox

CERTIFICATE_EVENTS = ("issued", "superseded", "expiring", "expired", "revoked")

HANDLERS: dict[str, Handler] = {
    **{f"scoring.certificate.{change}": products.apply_certificate_event for change in CERTIFICATE_EVENTS},
    # A subscriber that starts with an empty copy asks for everything as it stands.
    "stamps.snapshot.requested": products.resend_snapshots,
}

INBOX = Inbox(inbox, HANDLERS)
