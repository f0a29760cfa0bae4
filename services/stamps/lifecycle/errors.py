"""The problems of the stamp lifecycle."""

from __future__ import annotations

from shared.errors import Conflict, NotFound


class StampNotFound(NotFound):
    """No such stamp, or none the caller may see (the field names which one)."""

    type = "stamp-not-found"
    title = "Stamp not found"


class StampBatchNotFound(NotFound):
    """No such batch, or none the caller may see."""

    type = "stamp-batch-not-found"
    title = "Stamp batch not found"


class StampStateConflict(Conflict):
    """Listed stamps are in a state the action does not start from (``offending`` names them and their states)."""

    type = "stamp-state"
    title = "Not allowed in the stamps' current state"


class BatchNotGenerated(Conflict):
    """Stamps are issued only once their batch is generated in full."""

    type = "stamp-batch-state"
    title = "Not allowed in the batch's current state"


class ProductNotCertified(Conflict):
    """Stamps are activated only while their product's OCOP certificate is in force."""

    type = "product-not-certified"
    title = "The product holds no OCOP certificate in force"


class StampChangeNotFound(NotFound):
    """No such lifecycle operation, or none the caller may see."""

    type = "stamp-change-not-found"
    title = "Stamp change not found"


class StampChangePending(Conflict):
    """Another change of the batch is still running in the background (``change_id`` names it)."""

    type = "stamp-change-pending"
    title = "Another change of the batch is in progress"
