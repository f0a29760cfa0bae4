"""RFC 9457 problem details for every error a service returns."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from shared.request_id import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "/problems/"

logger = logging.getLogger("shared.errors")


class ProblemError(Exception):
    """A business or protocol error rendered as problem+json; subclasses fix status and type."""

    status: int = 400
    type: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        status: int | None = None,
        type: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        if status is not None:
            self.status = status
        if type is not None:
            self.type = type
        if title is not None:
            self.title = title
        self.headers = headers or {}
        self.extensions = extensions


class NotFound(ProblemError):
    """The resource does not exist (or the caller may not know that it does)."""

    status = 404
    type = "not-found"
    title = "Not found"


class Conflict(ProblemError):
    """The request conflicts with the current state of the resource."""

    status = 409
    type = "conflict"
    title = "Conflict"


class InvalidField(ProblemError):
    """One field failed a rule that the schema cannot express; 422 like any validation error."""

    status = 422
    type = "validation-error"
    title = "Request validation failed"

    def __init__(self, field: str, message: str, *, code: str = "invalid") -> None:
        super().__init__(f"{field}: {message}", errors=[{"field": field, "message": message, "type": code}])


def problem_body(
    status: int,
    type_: str,
    title: str,
    detail: str | None = None,
    instance: str | None = None,
    **extensions: Any,
) -> dict[str, Any]:
    """Build the JSON object of a problem response with the current request id."""
    body: dict[str, Any] = {
        # EPCIS 2.0's REST binding names its problems by CURIE (``epcisException:ValidationException``).
        "type": type_
        if type_.startswith(("/", "http", "about:", "epcisException:"))
        else PROBLEM_BASE + type_,
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body["request_id"] = current_request_id()
    body.update(extensions)
    return body


def problem_response(
    status: int,
    type_: str,
    title: str,
    detail: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """Render a problem as an ``application/problem+json`` response."""
    body = problem_body(status, type_, title, detail, instance, **extensions)
    return Response(orjson.dumps(body), status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def _field_path(loc: Sequence[int | str], error_type: str) -> str:
    """Turn a pydantic error location into a dotted field path (``body.items.0.name``)."""
    if error_type == "json_invalid":
        loc = loc[:1]  # the body is not JSON at all: the rest is a character position, not a field
    return ".".join(str(part) for part in loc)


async def _handle_problem(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, ProblemError):  # registered for this class only
        raise exc
    return problem_response(
        exc.status,
        exc.type,
        exc.title,
        exc.detail,
        request.url.path,
        headers=exc.headers,
        **exc.extensions,
    )


async def _handle_validation(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RequestValidationError):
        raise exc
    errors = [
        {"field": _field_path(err["loc"], err["type"]), "message": err["msg"], "type": err["type"]}
        for err in exc.errors()
    ]
    fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
    return problem_response(
        422,
        "validation-error",
        "Request validation failed",
        f"Invalid fields: {fields}" if fields else None,
        request.url.path,
        errors=errors,
    )


_HTTP_TYPES = {404: "not-found", 405: "method-not-allowed", 413: "payload-too-large"}


# Our code raises ProblemErrors, never a bare 400: a framework 400 means a body that could not even
# be parsed (invalid UTF-8, broken multipart). To a client that is one more invalid field, so it
# gets the same 422 as malformed JSON.
_UNPARSABLE_BODY = "There was an error parsing the body"


async def _handle_http(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, StarletteHTTPException):
        raise exc
    status = exc.status_code
    if status == 400:
        message = exc.detail if isinstance(exc.detail, str) and exc.detail != _UNPARSABLE_BODY else None
        return problem_response(
            422, "validation-error", "Request validation failed", "Invalid fields: body", request.url.path,
            errors=[{"field": "body", "message": message or "the body could not be decoded", "type": "body_undecodable"}],
        )  # fmt: skip
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    type_ = _HTTP_TYPES.get(status, phrase.lower().replace(" ", "-"))
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None
    return problem_response(status, type_, phrase, detail, request.url.path, headers=dict(exc.headers or {}))


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error the app can raise answer as problem+json."""
    app.add_exception_handler(ProblemError, _handle_problem)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(StarletteHTTPException, _handle_http)


def internal_error_body() -> bytes:
    """The body of a 500: a stable type and the request id, nothing about the cause."""
    return orjson.dumps(
        problem_body(
            500,
            "internal-error",
            "Internal server error",
            "The server failed to handle the request; quote the request id when reporting it.",
        )
    )
