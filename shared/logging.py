"""Structured JSON logs on stdout, each line carrying the service name and the current request id."""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import time
import weakref
from datetime import UTC, datetime
from typing import Any

import orjson

from shared.request_id import current_request_id

# Attributes every LogRecord has; anything else passed through ``extra=`` is emitted as a field.
_RESERVED = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class _Timestamps:
    """ISO 8601 UTC times to the millisecond, the date and time formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, created: float) -> str:
        # As datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds"), three times faster.
        second = int(created)
        micros = round((created - second) * 1e6)
        if micros >= 1_000_000:
            second, micros = second + 1, micros - 1_000_000
        if second != self._second:
            self._second = second
            self._prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._prefix}.{micros // 1000:03d}+00:00"


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON object per line."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service
        self._timestamp = _Timestamps()

    def format(self, record: logging.LogRecord) -> str:
        """Serialise the record, its extras and any exception into one line."""
        entry: dict[str, Any] = {
            "ts": self._timestamp(record.created),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = current_request_id()
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _RESERVED and key[0] != "_" and key != "color_message":
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


# Access lines wait in memory at most this long, or until this many bytes are waiting.
ACCESS_FLUSH_S = 0.25
ACCESS_BUFFER_BYTES = 64 * 1024


class AccessLog:
    """Each request's access line, the JSON of every other log line, written in batches.

    Through ``logging`` a line cost a record, the handlers' lock, the formatter and a write system call
    with its flush: a tenth of the gateway's CPU per proxied read (py-spy). As nginx's ``access_log …
    buffer= flush=``, lines wait in memory until ``ACCESS_BUFFER_BYTES`` are waiting or ``ACCESS_FLUSH_S``
    has passed, and at exit; a killed process loses at most that quarter-second of lines.
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self._timestamp = _Timestamps()
        self._lines: list[bytes] = []
        self._size = 0
        self._timer: asyncio.TimerHandle | None = None
        _OPEN_ACCESS_LOGS.add(self)

    def write(
        self, *, method: str, path: str, status: int, duration_ms: float, request_id: str | None
    ) -> None:
        """Queue one request's line."""
        entry: dict[str, Any] = {
            "ts": self._timestamp(time.time()),
            "level": "info",
            "service": self.service,
            "logger": "access",
            "msg": f"{method} {path} {status}",
        }
        if request_id:
            entry["request_id"] = request_id
        entry["method"] = method
        entry["path"] = path
        entry["status"] = status
        entry["duration_ms"] = duration_ms
        line = orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE)
        self._lines.append(line)
        self._size += len(line)
        if self._size >= ACCESS_BUFFER_BYTES:
            self.flush()
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._timer = loop.call_later(ACCESS_FLUSH_S, self.flush)

    def flush(self) -> None:
        """Write the waiting lines to stdout, after whatever other logs stdout holds."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._lines:
            return
        data = b"".join(self._lines)
        self._lines = []
        self._size = 0
        stream = sys.stdout
        stream.flush()
        binary = getattr(stream, "buffer", None)
        if binary is None:
            stream.write(data.decode())
            stream.flush()
        else:
            binary.write(data)
            binary.flush()


_OPEN_ACCESS_LOGS: weakref.WeakSet[AccessLog] = weakref.WeakSet()


@atexit.register
def _flush_access_logs() -> None:
    for access_log in list(_OPEN_ACCESS_LOGS):
        access_log.flush()


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send every logger (ours, uvicorn's, SQLAlchemy's) to stdout as JSON lines."""
    # Our lines carry none of the caller's file and line, thread or process: not gathering them
    # takes a fifth off every log call, the access line included (the logging HOWTO's optimisations).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers[:] = []
        uvicorn_logger.propagate = True
    # Our middleware writes the access line (with the request id); uvicorn's would duplicate it.
    logging.getLogger("uvicorn.access").disabled = True
