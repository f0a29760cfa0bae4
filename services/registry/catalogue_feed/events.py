"""The event types the catalogue feed emits (partners subscribe to them by name or pattern)."""

from __future__ import annotations

ADDED = "registry.catalogue.product_added"
CHANGED = "registry.catalogue.product_changed"
REMOVED = "registry.catalogue.product_removed"
TYPES = (ADDED, CHANGED, REMOVED)
