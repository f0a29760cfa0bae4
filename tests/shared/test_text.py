"""Folding Vietnamese text for search."""

from __future__ import annotations

import pytest

from shared.text import fold


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Rượu ba kích", "ruou ba kich"),
        ("ĐẶC SẢN Đầm Hà", "dac san dam ha"),
        ("  Chả   mực\tHạ Long ", "cha muc ha long"),
        ("Hải Hoà", "hai hoa"),
        ("Hải Hòa", "hai hoa"),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_decomposed_input_folds_like_composed() -> None:
    import unicodedata

    assert fold(unicodedata.normalize("NFD", "Trà hoa vàng")) == fold("Trà hoa vàng") == "tra hoa vang"
