"""Base pydantic models and the cursor page every list endpoint returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, field_validator

from shared.pagination import KeysetPage
from shared.textguard import MESSAGE as CONTROL_CHARACTER_MESSAGE
from shared.textguard import forbidden_character

T = TypeVar("T")
S = TypeVar("S", bound=BaseModel)


def _refuse_control_characters(value: Any) -> Any:
    if isinstance(value, str):
        if forbidden_character(value, allow_whitespace=True) is not None:
            raise ValueError(CONTROL_CHARACTER_MESSAGE)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _refuse_control_characters(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_control_characters(key)
            _refuse_control_characters(item)
    return value


class BaseSchema(BaseModel):
    """Strict-ish I/O model: unknown fields are rejected, ORM objects are readable, text has no NULs."""

    model_config = ConfigDict(from_attributes=True, extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _text_is_valid(cls, value: Any) -> Any:
        """Control characters (NUL, escapes, lone surrogates) are refused in every string of a request."""
        return _refuse_control_characters(value)


class ReadSchema(BaseModel):
    """Response model: reads ORM objects, tolerates extra attributes."""

    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    """One page of a cursor-paginated list."""

    items: list[T]
    next_cursor: str | None = None


def page_of(schema: type[S], page: KeysetPage[Any]) -> Page[S]:
    """A service's page of records as the response body of ``schema`` items."""
    return Page[schema](  # type: ignore[valid-type]
        items=[schema.model_validate(item) for item in page.items], next_cursor=page.next_cursor
    )


class ProblemField(BaseModel):
    """One invalid field in a validation problem."""

    field: str
    message: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details, as documented in every route's ``responses=``."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[ProblemField] | None = None


_PROBLEM_DESCRIPTIONS = {
    400: "Bad request",
    401: "No valid bearer token (the operation needs one)",
    403: "The caller may see this but not do this",
    404: "No such resource, or none the caller may see",
    409: "Conflicts with the current state",
    410: "Gone: it was here once and is no longer",
    413: "Too large",
    415: "Unsupported media type",
    503: "Briefly unavailable (a dependency is down); retry after the Retry-After seconds",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries documenting problem+json answers for the given statuses."""
    return {status: {"model": Problem, "description": _PROBLEM_DESCRIPTIONS[status]} for status in statuses}


def _not_a_boolean(value: Any) -> Any:
    """JSON true/false are not numbers, though pydantic's lax mode would read them as 1/0."""
    if isinstance(value, bool):
        raise ValueError("expected a number, not a boolean")
    return value


NotBool = BeforeValidator(_not_a_boolean)


def _not_a_number(value: Any) -> Any:
    """A date-time is ISO 8601 text: pydantic's lax mode would read ``0.5`` as seconds since 1970."""
    if isinstance(value, int | float) or (
        isinstance(value, str) and value.strip().lstrip("+-").replace(".", "", 1).isdigit()
    ):
        raise ValueError("expected an ISO 8601 date-time, not a number")
    return value


# A date-time query parameter or field that only ISO 8601 text can fill.
IsoDateTime = Annotated[datetime, BeforeValidator(_not_a_number)]
