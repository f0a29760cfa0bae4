"""The EPCIS repository's problems, typed as EPCIS 2.0's REST binding names them (openapi.yaml)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from shared.errors import ProblemError, problem_response

# The binding's titles of its security problems (openapi.yaml: 401UnauthorizedRequest, 403ClientUnauthorized).
SECURITY_TITLES = {401: "Unauthorised request", 403: "Access to resource forbidden"}
SECURITY_EXCEPTION = "epcisException:SecurityException"


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
    title = SECURITY_TITLES[403]


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


async def security_problem(request: Request, exc: Exception) -> Response:
    """A 401 or 403 of the platform's security layer (no token, a bad one, a forbidden role): on the EPCIS
    interface (``/epcis/…``) typed as the REST binding types it, ``epcisException:SecurityException``;
    elsewhere as every other service's."""
    if not isinstance(exc, ProblemError):  # registered for the security layer's problems only
        raise exc
    epcis = request.url.path == "/epcis" or request.url.path.startswith("/epcis/")
    return problem_response(
        exc.status,
        SECURITY_EXCEPTION if epcis else exc.type,
        SECURITY_TITLES.get(exc.status, exc.title) if epcis else exc.title,
        exc.detail,
        request.url.path,
        headers=exc.headers,
        **exc.extensions,
    )
