"""The problems of stamp batches."""

from __future__ import annotations

from shared.errors import Conflict, NotFound


class BatchNotFound(NotFound):
    """No such batch, or none the caller may see."""

    type = "stamp-batch-not-found"
    title = "Stamp batch not found"


class ProductNotFound(NotFound):
    """No such product in the stamps service's snapshot, or not the caller's."""

    type = "product-not-found"
    title = "Product not found"


class ProductNotCertified(Conflict):
    """Stamps are issued only for a product whose OCOP certificate is in force today."""

    type = "product-not-certified"
    title = "The product holds no OCOP certificate in force"


class ProductHasNoGtin(Conflict):
    """A stamp's Digital Link names the product's GTIN: a product without one gets no stamps."""

    type = "product-has-no-gtin"
    title = "The product has no GTIN"


class BatchStateConflict(Conflict):
    """The batch is not in a state that allows this (the current state is named)."""

    type = "stamp-batch-state"
    title = "Not allowed in the batch's current state"
