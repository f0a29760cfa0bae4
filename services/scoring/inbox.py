"""The events the scoring service consumes, and the service function each one calls."""

from __future__ import annotations

from services.scoring.certificates import service as certificates
from services.scoring.db import inbox
from services.scoring.registry_copy import service as registry_copy
from shared.events.inbox import Handler, Inbox

HANDLERS: dict[str, Handler] = {
    "registry.product.updated": registry_copy.apply_product_event,
    "registry.entity.updated": registry_copy.apply_entity_event,
    # A subscriber that starts with an empty copy asks for everything as it stands.
    "stamps.snapshot.requested": certificates.resend_certificates,
}

INBOX = Inbox(inbox, HANDLERS)
