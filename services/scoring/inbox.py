"""The events the scoring service consumes, and the service function each one calls."""

from __future__ import annotations

from services.scoring.db import inbox
from services.scoring.registry_copy import service as registry_copy
from shared.events.inbox import Handler, Inbox

HANDLERS: dict[str, Handler] = {
    "registry.product.updated": registry_copy.apply_product_event,
    "registry.entity.updated": registry_copy.apply_entity_event,
}

INBOX = Inbox(inbox, HANDLERS)
