"""The JSON log line: its fields, its request id, its time stamp."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from datetime import UTC, datetime

import orjson
import pytest

from shared.logging import ACCESS_BUFFER_BYTES, AccessLog, JsonFormatter
from shared.request_id import set_request_id
from shared.topology import REPO_ROOT


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


def _access_lines(text: str, service: str) -> list[dict[str, object]]:
    # Other apps built in this worker flush their own access lines on their own timers.
    return [line for line in map(orjson.loads, text.splitlines()) if line.get("service") == service]


async def test_access_lines_wait_in_memory_and_leave_together_in_order(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shared.logging.ACCESS_FLUSH_S", 0.05)
    access_log = AccessLog("test-order")
    for status in (200, 404, 500):
        access_log.write(
            method="GET", path="/v1/catalogue", status=status, duration_ms=1.5, request_id="req-1"
        )
    assert _access_lines(capsys.readouterr().out, "test-order") == []
    await asyncio.sleep(0.2)
    lines = _access_lines(capsys.readouterr().out, "test-order")
    assert [line["status"] for line in lines] == [200, 404, 500]
    assert list(lines[0]) == [
        "ts", "level", "service", "logger", "msg", "request_id", "method", "path", "status", "duration_ms",
    ]  # fmt: skip
    assert lines[0]["msg"] == "GET /v1/catalogue 200"
    assert (lines[0]["service"], lines[0]["level"], lines[0]["duration_ms"]) == ("test-order", "info", 1.5)


async def test_a_full_buffer_is_written_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    access_log = AccessLog("registry")
    output = ""
    for _ in range(2 * ACCESS_BUFFER_BYTES // 200):
        access_log.write(method="GET", path="/x" * 100, status=200, duration_ms=0.1, request_id=None)
        output = capsys.readouterr().out
        if output:
            break
    line_bytes = len(output.splitlines()[0]) + 1
    # Written by the line that filled the buffer, not before and not by the timer.
    assert len(output) >= ACCESS_BUFFER_BYTES > len(output) - line_bytes
    access_log.flush()


def test_lines_waiting_at_exit_are_written() -> None:
    script = (
        "from shared.logging import AccessLog\n"
        "AccessLog('stamps')  # an unused one is fine too\n"
        "log = AccessLog('stamps')\n"
        "import asyncio\n"
        "async def main():\n"
        "    log.write(method='GET', path='/v/X', status=200, duration_ms=0.2, request_id='r')\n"
        "asyncio.run(main())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO_ROOT, check=True
    )
    assert [line["path"] for line in _access_lines(result.stdout, "stamps")] == ["/v/X"]
