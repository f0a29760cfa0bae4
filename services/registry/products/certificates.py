"""What makes a certificate event valid: stars, levels, validity and criteria versions (OCOP-DOMAIN.md §2–§3).

Only 3–5★ are certified. A 5★ is recognised by the central level alone; 3–4★ by the province's
People's Committee, and a 3★ also by a district's while Decision 781 (2020) and 148 (2023) let
districts certify it, until the 2025 reform abolished districts (1489). A certificate is valid 36
months from its issue date under every criteria version so far; a version that says otherwise sets
its own ``validity_months``.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from typing import Literal

CriteriaVersionCode = Literal["1048", "1048+781", "148", "148+1489", "26/2026"]
DEFAULT_VALIDITY_MONTHS = 36
# How far along its life each status puts a certificate: a late event never moves it back.
STATUS_ORDER = {"active": 0, "expiring": 1, "expired": 2, "superseded": 3, "revoked": 3}


@dataclass(frozen=True)
class CriteriaVersion:
    """A national criteria set and procedure, from the day it came into force."""

    code: CriteriaVersionCode
    in_force_from: date
    validity_months: int = DEFAULT_VALIDITY_MONTHS
    district_certifies_3_star: bool = False


CRITERIA_VERSIONS = (
    CriteriaVersion("1048", date(2019, 8, 21)),
    CriteriaVersion("1048+781", date(2020, 6, 8), district_certifies_3_star=True),
    CriteriaVersion("148", date(2023, 2, 24), district_certifies_3_star=True),
    CriteriaVersion("148+1489", date(2025, 7, 6)),
    CriteriaVersion("26/2026", date(2026, 5, 22)),
)
VERSIONS = {version.code: version for version in CRITERIA_VERSIONS}


def version_in_force(on: date) -> CriteriaVersion | None:
    """The latest version in force on ``on``; None before the first national criteria (provincial programmes)."""
    in_force = [version for version in CRITERIA_VERSIONS if version.in_force_from <= on]
    return in_force[-1] if in_force else None


def certifying_levels(star: int, version: CriteriaVersion | None) -> frozenset[str]:
    """The levels that may issue a ``star`` certificate under ``version``."""
    if star == 5:
        return frozenset({"central"})
    if star == 3 and version is not None and version.district_certifies_3_star:
        return frozenset({"province", "district"})
    return frozenset({"province"})


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it has no such day (29 Feb → 28 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def expiry(issued_on: date, version: CriteriaVersion | None) -> date:
    """The expiry date of a certificate issued on ``issued_on`` under ``version``."""
    months = version.validity_months if version is not None else DEFAULT_VALIDITY_MONTHS
    return add_months(issued_on, months)
