"""The problems of printing."""

from __future__ import annotations

from shared.errors import Conflict, NotFound


class StampNotFound(NotFound):
    """No stamp with this serial, or none the caller may see."""

    type = "stamp-not-found"
    title = "Stamp not found"


class BatchNotPrintable(Conflict):
    """A batch's print files exist once its stamps are all generated (the current status is named)."""

    type = "stamp-batch-not-printable"
    title = "The batch's stamps are not generated"


class StampNotPrintable(Conflict):
    """A void or revoked stamp is never printed again (the current state is named)."""

    type = "stamp-not-printable"
    title = "The stamp may not be printed in its current state"
