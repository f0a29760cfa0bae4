"""Opaque cursors for keyset pagination: the sort key of the last row, base64url-encoded JSON."""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Annotated, Any

import orjson
from fastapi import Query

from shared.errors import InvalidField

MAX_LIMIT = 200
DEFAULT_LIMIT = 50

LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")]
CursorQuery = Annotated[str | None, Query(max_length=512, description="Opaque cursor from `next_cursor`")]


def encode_cursor(*key: Any) -> str:
    """Encode the sort key of the last row returned."""
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    """Decode a cursor into its ``arity`` key values; a malformed cursor is a 422 on ``cursor``."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise InvalidField("query.cursor", "malformed cursor") from exc
    if not isinstance(values, list) or len(values) != arity:
        raise InvalidField("query.cursor", "cursor does not belong to this listing")
    return values


def decode_name_id_cursor(cursor: str | None) -> tuple[str, uuid.UUID] | None:
    """The (sort name, id) key of a cursor made by ``encode_cursor(name, str(id))``, if any."""
    if not cursor:
        return None
    name, raw_id = decode_cursor(cursor, 2)
    try:
        return str(name), uuid.UUID(str(raw_id))
    except ValueError as exc:
        raise InvalidField("query.cursor", "malformed cursor") from exc
