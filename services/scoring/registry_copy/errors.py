"""Problems of the registry copy."""

from __future__ import annotations

from shared.errors import ProblemError


class RegistrySnapshotInvalid(ProblemError):
    """A registry event whose data is not a snapshot scoring can keep (the relay retries, then dead-letters it)."""

    status = 422
    type = "registry-snapshot-invalid"
    title = "Invalid registry snapshot"
