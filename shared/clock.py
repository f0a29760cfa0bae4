"""The platform's one clock: instants in UTC, calendar dates in Vietnam.

Every "today" in the platform (a registration's commune, a product code's year, whether a certificate
is still valid, which side of the 1 July 2025 reform a date falls) is the date in Vietnam, whatever
the server's time zone: at 23:30 UTC it is already 06:30 the next day there. Code reads the time only
through ``now()`` and ``today()``; ruff's DTZ rules keep ``date.today()`` and naive datetimes out.
Tests move the clock with ``frozen_at``.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

# The tz database comes from the system or, where it has none, from the tzdata package.
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")

Source = Callable[[], datetime]


def _system_time() -> datetime:
    return datetime.now(UTC)


# A context variable, not a module global: a frozen clock reaches the tasks its caller starts and no
# other concurrent request.
_source: ContextVar[Source] = ContextVar("clock_source", default=_system_time)


def now() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return _source.get()().astimezone(UTC)


def today() -> date:
    """Today's date in Vietnam."""
    return now().astimezone(VIETNAM).date()


def vietnam_date(moment: datetime) -> date:
    """The date in Vietnam at ``moment`` (timezone-aware)."""
    return moment.astimezone(VIETNAM).date()


@contextmanager
def frozen_at(moment: datetime) -> Iterator[None]:
    """Within the block (and the tasks started from it) the clock reads ``moment`` (timezone-aware)."""
    if moment.tzinfo is None:
        raise ValueError("a frozen clock needs a timezone-aware datetime")
    token = _source.set(lambda: moment)
    try:
        yield
    finally:
        _source.reset(token)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or that month's last day when it has no such day (29 Feb → 28 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
