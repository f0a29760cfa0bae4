"""The EPCIS repository's problems, typed as EPCIS 2.0's REST binding names them (openapi.yaml)."""

from __future__ import annotations

from typing import Any

from shared.errors import ProblemError


class EpcisValidationError(ProblemError):
    """The document or event is not valid EPCIS 2.0 (JSON, GS1's schema, CBV vocabulary, times, identifiers)."""

    status = 400
    type = "epcisException:ValidationException"
    title = "Invalid EPCIS document"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]]) -> None:
        super().__init__(detail, errors=errors)
        self.errors = errors


class CaptureLimitExceeded(ProblemError):
    """The document is larger (in bytes or events) than the repository accepts."""

    status = 413
    type = "epcisException:CaptureLimitExceededException"
    title = "Capture payload too large"


class EpcisForbidden(ProblemError):
    """The caller may not capture events about these EPCs or locations (``offending`` names them)."""

    status = 403
    type = "epcisException:SecurityException"
    title = "Not allowed to capture these events"


class CaptureJobNotFound(ProblemError):
    """No capture job with this id (or none the caller started)."""

    status = 404
    type = "epcisException:NoSuchResourceException"
    title = "Capture job not found"


class EventNotFound(ProblemError):
    """No event with this id (or none the caller may read)."""

    status = 404
    type = "epcisException:NoSuchResourceException"
    title = "Event not found"
