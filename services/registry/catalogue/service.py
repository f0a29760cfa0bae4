"""Catalogue rules: what is public, how a search is sorted and paged, the public record's shape."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.catalogue.errors import NotInCatalogue
from services.registry.catalogue.repository import SORT_KEYS, CatalogueRepository
from services.registry.catalogue.schemas import CatalogueProduct, CatalogueQuery
from shared import clock
from shared.errors import InvalidField
from shared.pagination import CursorType, decode_cursor, encode_cursor
from shared.schemas import Page
from shared.text import fold

CataloguePage = Page[CatalogueProduct]


def _public_fields(row: RowMapping) -> dict[str, Any]:
    return {
        "id": row["id"], "name": row["name"], "ocop_star": row["ocop_star"], "description": row["description"],
        "story": row["story"], "images": [image["url"] for image in row["images"] if "url" in image],
        "ocop_certificate_number": row["certificate_number"], "issued_on": row["certificate_issued_on"],
        "expiry_date": row["certificate_expires_on"], "is_national": row["is_national"],
        "type": row["product_group"],
        "manufacturer": {
            "name": row["legal_name"], "representative": row["representative_name"], "address": row["address"],
            "phone_number": row["phone"], "email": row["email"],
        },
        "name_en": row["name_en"], "product_code": row["product_code"], "product_set": row["product_set"],
        "gtin": row["gtin"], "entity_type": row["entity_type"],
        "commune": {"code": row["commune_code"], "name": row["commune_name"]},
        "province": {"code": row["province_code"], "name": row["province_name"]},
    }  # fmt: skip


def public_record(row: RowMapping) -> CatalogueProduct:
    """The public record of one catalogue row."""
    return CatalogueProduct.model_validate(_public_fields(row))


async def get_public_product(session: AsyncSession, product_id: uuid.UUID) -> CatalogueProduct:
    """The public record of a product in the catalogue; anything else is a 404."""
    row = await CatalogueRepository(session).get(product_id, clock.today())
    if row is None:
        raise NotInCatalogue(f"No product {product_id} in the catalogue")
    return public_record(row)


def _cursor_key(row: RowMapping, sort: str) -> list[Any]:
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
    session: AsyncSession,
    query: CatalogueQuery,
    *,
    q: str | None,
    sort: str | None,
    cursor: str | None,
    limit: int,
) -> Page[CatalogueProduct]:
    """A page of the catalogue matching ``query`` and ``q``, with the cursor of the next page."""
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
    rows = await CatalogueRepository(session).search(
        query, sort=sort, after=after, limit=limit + 1, today=clock.today()
    )
    next_cursor = encode_cursor(sort, *_cursor_key(rows[limit - 1], sort)) if len(rows) > limit else None
    # One validation of the whole page: far cheaper than a model per record and per nested object.
    return CataloguePage.model_validate(
        {"items": [_public_fields(row) for row in rows[:limit]], "next_cursor": next_cursor}
    )
