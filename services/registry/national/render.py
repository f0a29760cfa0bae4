"""The national system's body of a catalogue event (docs/EVENTS.md, "The national sync"): pure functions."""

from __future__ import annotations

from typing import Any

import orjson

from shared.events.envelope import Envelope

ADDED = "registry.catalogue.product_added"
CHANGED = "registry.catalogue.product_changed"
REMOVED = "registry.catalogue.product_removed"

# The event types the national system receives, and the change each one is to it.
CHANGES = {ADDED: "added", CHANGED: "changed", REMOVED: "removed"}


def _product_id(envelope: Envelope) -> str:
    # The data names it; the subject (product/<id>) does too, should the data not.
    product_id = envelope.data.get("product_id")
    return str(product_id) if product_id else envelope.subject.partition("/")[2]


def national_body(envelope: Envelope) -> dict[str, Any]:
    """The body for the national system: the change, and the public record or a tombstone of the product.

    Total on purpose: whatever the data holds, a body is made (a delivery the receiver then refuses
    ends as a dead letter an administrator sees; a rendering that raised would stall the relay's pass).
    """
    change = CHANGES.get(envelope.type, "changed")
    reason = envelope.data.get("reason")
    product: Any
    if change == "removed":
        product = {"id": _product_id(envelope), "status": "removed", "reason": reason}
    else:
        product = envelope.data.get("record")
    return {
        "event_id": str(envelope.id),
        "change": change,
        "occurred_at": envelope.occurred_at.isoformat(),
        "reason": reason,
        "product": product,
    }


def render(envelope: Envelope) -> bytes:
    """The national body's bytes (what is signed and posted)."""
    return orjson.dumps(national_body(envelope))
