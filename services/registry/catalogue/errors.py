"""Catalogue errors."""

from __future__ import annotations

from shared.errors import NotFound


class NotInCatalogue(NotFound):
    """No certified product with an active certificate has this id."""

    type = "catalogue-product-not-found"
    title = "Product not in the catalogue"
