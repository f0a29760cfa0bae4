"""IsoDateTime: a date-time only ISO 8601 text can fill (pydantic's lax mode reads numbers as epoch seconds)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from shared.schemas import IsoDateTime

MOMENT = TypeAdapter(IsoDateTime)


@pytest.mark.parametrize("value", ["0.5", "1733097600", "-3", 12, 0.5])
def test_a_number_is_not_a_date_time(value: object) -> None:
    with pytest.raises(ValidationError, match="ISO 8601"):
        MOMENT.validate_python(value)


def test_iso_text_is_read() -> None:
    assert MOMENT.validate_python("2026-12-01T17:00:00+00:00") == datetime(2026, 12, 1, 17, tzinfo=UTC)
