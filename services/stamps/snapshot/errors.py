"""Problems of the snapshot."""

from __future__ import annotations

from shared.errors import ProblemError


class SnapshotEventInvalid(ProblemError):
    """An event whose data the snapshot cannot keep (the relay retries, then dead-letters it)."""

    status = 422
    type = "snapshot-event-invalid"
    title = "Invalid snapshot event"
