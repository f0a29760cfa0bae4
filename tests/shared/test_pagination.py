"""Cursors round-trip and reject tampering with a 422 on the cursor field."""

from __future__ import annotations

import pytest

from shared.errors import InvalidField
from shared.pagination import decode_cursor, encode_cursor


def test_cursor_round_trip() -> None:
    cursor = encode_cursor(4, "Rượu ba kích", "2f1c")
    assert decode_cursor(cursor, 3) == [4, "Rượu ba kích", "2f1c"]


@pytest.mark.parametrize("cursor", ["!!!", "bm90IGpzb24", encode_cursor(1, 2)])
def test_bad_cursor_is_invalid_field(cursor: str) -> None:
    with pytest.raises(InvalidField) as raised:
        decode_cursor(cursor, 3)
    assert raised.value.status == 422
    assert raised.value.extensions["errors"][0]["field"] == "query.cursor"
