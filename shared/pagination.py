"""Opaque cursors for keyset pagination: the sort key of the last row, base64url-encoded JSON.

``encode_cursor`` writes the key; ``decode_cursor`` reads it back as typed values, refusing (422 on
``cursor``) anything that did not come from us, so a forged cursor never reaches the database.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Query

from shared.errors import InvalidField

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
MAX_CURSOR_TEXT = 300
# PostgreSQL's bigint: larger numbers are not keys of ours.
MAX_CURSOR_INT = 2**63 - 1

LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")]
CursorQuery = Annotated[str | None, Query(max_length=512, description="Opaque cursor from `next_cursor`")]

T = TypeVar("T")

CursorType = type[str] | type[int] | type[uuid.UUID] | type[date] | type[datetime]


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def encode_cursor(*key: Any) -> str:
    """Encode the sort key of the last row returned (uuids, dates and datetimes as text)."""
    return base64.urlsafe_b64encode(orjson.dumps([_plain(value) for value in key])).decode().rstrip("=")


def _malformed(reason: str = "malformed cursor") -> InvalidField:
    return InvalidField("query.cursor", reason)


def _typed(value: Any, expected: CursorType) -> Any:
    """One decoded value as ``expected``; ValueError when it is not one."""
    if expected is str:
        if not isinstance(value, str) or len(value) > MAX_CURSOR_TEXT or not value.isprintable():
            raise ValueError(value)
        return value
    if expected is int:
        if type(value) is not int or not -MAX_CURSOR_INT <= value <= MAX_CURSOR_INT:
            raise ValueError(value)
        return value
    if not isinstance(value, str):
        raise ValueError(value)
    if expected is uuid.UUID:
        return uuid.UUID(value)
    if expected is datetime:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError(value)
        return moment
    if expected is date:
        return date.fromisoformat(value)
    raise TypeError(f"cursors carry no {expected!r}")


def decode_cursor(cursor: str | None, *types: CursorType) -> tuple[Any, ...] | None:
    """The key a cursor carries, one value per type in ``types``; None without a cursor."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise _malformed() from exc
    if not isinstance(values, list) or len(values) != len(types):
        raise _malformed("cursor does not belong to this listing")
    try:
        return tuple(_typed(value, expected) for value, expected in zip(values, types, strict=True))
    except ValueError as exc:
        raise _malformed() from exc


@dataclass(frozen=True)
class KeysetPage(Generic[T]):
    """What a service returns for a listing: the records and the cursor of the next page (None at the end)."""

    items: list[T]
    next_cursor: str | None = None


def next_page(rows: Sequence[T], limit: int, key: Callable[[T], Sequence[Any]]) -> KeysetPage[T]:
    """Slice a ``limit + 1`` fetch to ``limit`` rows and encode the key of the last one as the next cursor."""
    if len(rows) <= limit:
        return KeysetPage(list(rows))
    return KeysetPage(list(rows[:limit]), encode_cursor(*key(rows[limit - 1])))
