"""Product errors, each a problem type of its own."""

from __future__ import annotations

from shared.errors import NotFound


class ProductNotFound(NotFound):
    """No product with this id (or none the caller may see)."""

    type = "product-not-found"
    title = "Product not found"
