"""The JSON log line: its fields, its request id, its time stamp."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import orjson
import pytest

from shared.logging import JsonFormatter
from shared.request_id import set_request_id


def _record(created: float, **extra: object) -> logging.LogRecord:
    record = logging.getLogger("access").makeRecord(
        "access", logging.INFO, "f.py", 1, "%s %s %s", ("GET", "/v1/catalogue", 200), None, extra=extra
    )
    record.created = created
    return record


@pytest.mark.parametrize(
    "created",
    [
        0.0,
        1_796_000_000.0,
        1_796_000_000.0004999,
        1_796_000_000.9995,
        1_796_000_000.9999996,
        1_796_000_059.123456,
    ],
)
def test_the_time_stamp_is_iso_8601_utc_to_the_millisecond(created: float) -> None:
    line = orjson.loads(JsonFormatter("registry").format(_record(created)))
    assert line["ts"] == datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")


def test_a_line_carries_the_service_the_request_id_and_the_extras_in_order() -> None:
    formatter = JsonFormatter("gateway")
    set_request_id("req-0001-abcdef")
    try:
        text = formatter.format(_record(1_796_000_000.25, method="GET", path="/v1/catalogue", status=200))
    finally:
        set_request_id(None)
    line = orjson.loads(text)
    assert list(line) == ["ts", "level", "service", "logger", "msg", "request_id", "method", "path", "status"]
    assert line["service"] == "gateway"
    assert line["msg"] == "GET /v1/catalogue 200"
    assert (line["request_id"], line["status"]) == ("req-0001-abcdef", 200)
    # The same second formatted twice (from the formatter's cache) still carries each record's milliseconds.
    assert orjson.loads(formatter.format(_record(1_796_000_000.75)))["ts"].endswith(":20.750+00:00")
