"""Entity errors."""

from __future__ import annotations

from shared.errors import Conflict, NotFound


class EntityNotFound(NotFound):
    """No entity with this id (or none the caller may see)."""

    type = "entity-not-found"
    title = "Entity not found"


class TaxCodeTaken(Conflict):
    """Another entity already has this tax code."""

    type = "entity-tax-code-taken"
    title = "Tax code already registered"
