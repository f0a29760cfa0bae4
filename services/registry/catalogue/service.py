"""Catalogue rules: what is public, how a search is sorted and paged, the public record's shape.

The public record (``CatalogueProduct``) is built by PostgreSQL as JSON (see the repository): the
service hands its bytes on, and puts a page's records together with the next cursor.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

import asyncpg
import orjson

from services.registry.catalogue.errors import NotInCatalogue
from services.registry.catalogue.repository import SORT_KEYS, CatalogueRepository
from services.registry.catalogue.schemas import CatalogueQuery
from shared import clock
from shared.db import ReadPool
from shared.errors import InvalidField
from shared.pagination import CursorType, decode_cursor, encode_cursor
from shared.text import fold


async def get_public_product(pool: ReadPool, product_id: uuid.UUID) -> bytes:
    """The public record (JSON of CatalogueProduct) of a product in the catalogue; anything else is a 404."""
    record = await CatalogueRepository(pool).get(product_id, clock.today())
    if record is None:
        raise NotInCatalogue(f"No product {product_id} in the catalogue")
    return record.encode()


def page_json(records: Sequence[str], next_cursor: str | None) -> bytes:
    """A page (``Page[CatalogueProduct]``) of records already rendered as JSON."""
    items = ",".join(records).encode()
    return b'{"items":[' + items + b'],"next_cursor":' + orjson.dumps(next_cursor) + b"}"


def _cursor_key(row: asyncpg.Record, sort: str) -> list[Any]:
    values = [row[column] for column in SORT_KEYS[sort]]
    return [value.isoformat() if isinstance(value, date) else str(value) if isinstance(value, uuid.UUID)
            else value for value in values]  # fmt: skip


FIRST_KEY_RANGES = {"-star": (1, 5), "relevance": (1, 3000)}


# The types of each sort's cursor (the sort's name first), and the ranges its first key may take:
# anything else did not come from us and must not reach the database.
CURSOR_TYPES: dict[str, tuple[CursorType, ...]] = {
    "name": (str, str, uuid.UUID),
    "-star": (str, int, str, uuid.UUID),
    "relevance": (str, int, str, uuid.UUID),
    "-issued_on": (str, date, str, uuid.UUID),
}


def _decode_after(cursor: str, sort: str) -> list[Any]:
    sort_of_cursor, *after = decode_cursor(cursor, *CURSOR_TYPES[sort]) or ("",)
    if sort_of_cursor != sort:
        raise InvalidField("query.cursor", f"the cursor belongs to sort {sort_of_cursor!r}, not {sort!r}")
    if sort in FIRST_KEY_RANGES:
        low, high = FIRST_KEY_RANGES[sort]
        if not low <= after[0] <= high:
            raise InvalidField("query.cursor", "malformed cursor")
    return after


async def search(
    pool: ReadPool,
    query: CatalogueQuery,
    *,
    q: str | None,
    sort: str | None,
    cursor: str | None,
    limit: int,
) -> bytes:
    """A page of the catalogue matching ``query`` and ``q``, with the cursor of the next page (JSON)."""
    if q is not None:
        # No name holds control characters (and PostgreSQL refuses NUL outright): they separate words.
        query = replace(query, q_folded=fold("".join(c if c.isprintable() else " " for c in q)))
        if not any(character.isalnum() for character in query.q_folded or ""):
            raise InvalidField("query.q", "needs at least one letter or digit")
    sort = sort or ("relevance" if query.q_folded else "name")
    if sort == "relevance" and not query.q_folded:
        raise InvalidField("query.sort", "sorting by relevance needs a search text (q)")
    after = _decode_after(cursor, sort) if cursor else None
    # Certificates run out at the end of a day in Vietnam, whatever the server's time zone.
    rows = await CatalogueRepository(pool).search(
        query, sort=sort, after=after, limit=limit + 1, today=clock.today()
    )
    next_cursor = encode_cursor(sort, *_cursor_key(rows[limit - 1], sort)) if len(rows) > limit else None
    return page_json([row["record"] for row in rows[:limit]], next_cursor)


async def public_record_pages(
    pool: ReadPool, *, page_size: int
) -> AsyncIterator[list[tuple[uuid.UUID, str]]]:
    """The whole catalogue as pages of (product id, public record JSON), in id order, one statement a page.

    Memory is bounded by a page; a product that changes meanwhile is read as it is when its page is.
    """
    after: uuid.UUID | None = None
    while True:
        rows = await CatalogueRepository(pool).export_page(after=after, limit=page_size, today=clock.today())
        if not rows:
            return
        yield [(row["id"], row["record"]) for row in rows]
        if len(rows) < page_size:
            return
        after = rows[-1]["id"]
