"""Cursors round-trip typed and reject tampering with a 422 on the cursor field."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, date, datetime

import pytest

from shared.errors import InvalidField
from shared.pagination import decode_cursor, encode_cursor, next_page

ID = uuid.UUID("2f1c3a2e-8a41-4d8e-9c3e-0a6c1f0e5b77")


def test_cursor_round_trip_gives_typed_values() -> None:
    moment = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    cursor = encode_cursor(4, "Rượu ba kích", ID, date(2026, 7, 1), moment)
    assert decode_cursor(cursor, int, str, uuid.UUID, date, datetime) == (
        4, "Rượu ba kích", ID, date(2026, 7, 1), moment,
    )  # fmt: skip


def test_no_cursor_is_the_first_page() -> None:
    assert decode_cursor(None, str, uuid.UUID) is None
    assert decode_cursor("", str, uuid.UUID) is None


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!",
        "bm90IGpzb24",
        encode_cursor(1, 2),  # wrong arity
        encode_cursor(1, "x", str(ID)),  # a number where text belongs
        encode_cursor("x", "not-a-uuid", str(ID)),
        encode_cursor("x", True, str(ID)),  # a boolean is not a number
        encode_cursor("nul\x00", 1, str(ID)),
        base64.urlsafe_b64encode(f'["x", {2**70}, "{ID}"]'.encode()).decode(),  # beyond bigint
    ],
)
def test_bad_cursor_is_invalid_field(cursor: str) -> None:
    with pytest.raises(InvalidField) as raised:
        decode_cursor(cursor, str, int, uuid.UUID)
    assert raised.value.status == 422
    assert raised.value.extensions["errors"][0]["field"] == "query.cursor"


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(InvalidField):
        decode_cursor(encode_cursor("2026-12-01T08:30:00"), datetime)


def test_next_page_slices_the_extra_row_and_encodes_the_last_key() -> None:
    rows = [("a", 1), ("b", 2), ("c", 3)]
    page = next_page(rows, 2, key=lambda row: row)
    assert page.items == [("a", 1), ("b", 2)]
    assert decode_cursor(page.next_cursor, str, int) == ("b", 2)
    last = next_page(rows, 3, key=lambda row: row)
    assert last.items == rows
    assert last.next_cursor is None
