"""Base pydantic models and the cursor page every list endpoint returns."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class BaseSchema(BaseModel):
    """Strict-ish I/O model: unknown fields are rejected, ORM objects are readable."""

    model_config = ConfigDict(from_attributes=True, extra="forbid", str_strip_whitespace=True)


class ReadSchema(BaseModel):
    """Response model: reads ORM objects, tolerates extra attributes."""

    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    """One page of a cursor-paginated list."""

    items: list[T]
    next_cursor: str | None = None


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
