"""Change-request errors."""

from __future__ import annotations

from shared.errors import Conflict, NotFound


class ChangeRequestNotFound(NotFound):
    """No change request with this id (or none the caller may see)."""

    type = "change-request-not-found"
    title = "Change request not found"


class ChangeRequestDecided(Conflict):
    """The request was already approved or rejected; the problem names its state."""

    type = "change-request-decided"
    title = "Change request already decided"


class NeedsApproval(Conflict):
    """A producer asked to change in place what an officer must approve; the problem says where to ask."""

    type = "change-needs-approval"
    title = "This change needs an officer's approval"
