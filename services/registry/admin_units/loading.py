"""Loading national lists of administrative units (CSV) into the registry: check everything, then write.

The pre-reform file has the columns code,name,level,type,parent_code; the file of units from 1 July
2025 adds merged_from (the earlier codes each unit was formed from) and optionally merged_from_partial.
Every fault is collected by file, row and column before anything is written; loading the same lists
again changes nothing. The command that runs this is ``services.registry.commands.load_admin_units``.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from importlib import resources
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.admin_units.errors import AdminUnitDataInvalid
from services.registry.admin_units.repository import (
    AdminUnitRepository,
    SuccessionValues,
    UnitKey,
    UnitValues,
)
from services.registry.admin_units.service import REFORM_DATE
from shared.text import fold

LEVELS = ("province", "district", "commune")
CODE_LENGTHS = {"province": 2, "district": 3, "commune": 5}
UNIT_TYPES = {
    "province": ("tỉnh", "thành phố"),
    "district": ("quận", "huyện", "thị xã", "thành phố"),
    "commune": ("phường", "xã", "thị trấn", "đặc khu"),
}
PRE_COLUMNS = ("code", "name", "level", "type", "parent_code")
POST_COLUMNS = (*PRE_COLUMNS, "merged_from")
POST_OPTIONAL_COLUMNS = ("merged_from_partial",)
MAX_NAME_LENGTH = 120

REFERENCE_PACKAGE = "services.registry.reference"
REFERENCE_PRE_FILE = "admin-units-pre2025.csv"
REFERENCE_POST_FILE = "admin-units-2025.csv"


@dataclass(frozen=True)
class RowError:
    """One fault in a unit list: the file, its row (the header is row 1) and column."""

    file: str
    row: int
    column: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape used in AdminUnitDataInvalid.row_errors."""
        return {"file": self.file, "row": self.row, "column": self.column, "message": self.message}

    def __str__(self) -> str:
        column = f", column {self.column}" if self.column else ""
        return f"{self.file}: row {self.row}{column}: {self.message}"


@dataclass(frozen=True)
class CsvUnit:
    """One row of a unit list after its own checks."""

    row: int
    code: str
    name: str
    level: str
    unit_type: str
    parent_code: str | None
    merged_from: tuple[str, ...] = ()
    partial_from: frozenset[str] = frozenset()


@dataclass(frozen=True)
class LoadPlan:
    """Everything a load writes: units and successions by key, and whose successions it fully describes."""

    units: tuple[UnitValues, ...]
    successions: tuple[SuccessionValues, ...]
    complete_successions_of: frozenset[UnitKey]


@dataclass
class LoadReport:
    """What a load changed."""

    units_inserted: int = 0
    units_updated: int = 0
    units_unchanged: int = 0
    successions_inserted: int = 0
    successions_updated: int = 0
    successions_deleted: int = 0

    @property
    def changed(self) -> bool:
        """Whether anything was written."""
        return bool(
            self.units_inserted
            or self.units_updated
            or self.successions_inserted
            or self.successions_updated
            or self.successions_deleted
        )


@dataclass
class _Checker:
    errors: list[RowError] = field(default_factory=list)

    def add(self, file: str, row: int, column: str | None, message: str) -> None:
        self.errors.append(RowError(file, row, column, message))


def _clean(value: str | None) -> str:
    return unicodedata.normalize("NFC", value or "").strip()


def _code_list(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(";") if part.strip())


def _read_rows(text: str, file: str, *, post: bool, check: _Checker) -> list[CsvUnit]:
    """Parse one unit list and check each row on its own (columns, level, type, code format)."""
    required = POST_COLUMNS if post else PRE_COLUMNS
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    header = [name.strip() for name in reader.fieldnames or []]
    if not header:
        check.add(file, 1, None, "the file is empty (a header row is required)")
        return []
    reader.fieldnames = header
    missing = [column for column in required if column not in header]
    for column in missing:
        check.add(file, 1, column, f"missing column {column!r} (required: {', '.join(required)})")
    if missing:
        return []
    levels = ("province", "commune") if post else LEVELS
    rows: list[CsvUnit] = []
    for record in reader:
        row = reader.line_num
        if None in record:
            check.add(file, row, None, f"more fields than the {len(header)} columns of the header")
        code, name, level = _clean(record["code"]), _clean(record["name"]), _clean(record["level"]).lower()
        unit_type, parent = _clean(record["type"]).lower(), _clean(record["parent_code"])
        if level not in levels:
            hint = " (districts were abolished on 1 July 2025)" if post and level == "district" else ""
            check.add(file, row, "level", f"{level!r} is not one of {', '.join(levels)}{hint}")
        if not (code.isascii() and code.isdigit()):
            check.add(file, row, "code", f"{code!r} is not a numeric code")
        elif level in CODE_LENGTHS and len(code) != CODE_LENGTHS[level]:
            check.add(
                file,
                row,
                "code",
                f"a {level} code has {CODE_LENGTHS[level]} digits, {code!r} has {len(code)} "
                "(leading zeros lost in a spreadsheet?)",
            )
        if not name:
            check.add(file, row, "name", "the name is empty")
        elif len(name) > MAX_NAME_LENGTH:
            check.add(file, row, "name", f"longer than {MAX_NAME_LENGTH} characters")
        if level in UNIT_TYPES and unit_type not in UNIT_TYPES[level]:
            check.add(
                file, row, "type", f"{unit_type!r} is not a {level} type ({', '.join(UNIT_TYPES[level])})"
            )
        if parent and not (parent.isascii() and parent.isdigit()):
            check.add(file, row, "parent_code", f"{parent!r} is not a numeric code")
        merged_from: tuple[str, ...] = ()
        partial_from: frozenset[str] = frozenset()
        if post:
            # A province row that lists nothing was formed from itself alone (it kept its boundaries).
            merged_from = _code_list(_clean(record["merged_from"])) or (
                (code,) if level == "province" else ()
            )
            partial_from = frozenset(_code_list(_clean(record.get("merged_from_partial"))))
            for column, codes in (("merged_from", merged_from), ("merged_from_partial", partial_from)):
                bad = sorted(c for c in codes if not (c.isascii() and c.isdigit()))
                if bad:
                    check.add(file, row, column, f"not numeric codes: {', '.join(bad)}")
            outside = sorted(partial_from - set(merged_from))
            if outside:
                check.add(
                    file, row, "merged_from_partial", f"not listed in merged_from: {', '.join(outside)}"
                )
        rows.append(CsvUnit(row, code, name, level, unit_type, parent or None, merged_from, partial_from))
    return rows


def _check_codes_and_parents(
    rows: list[CsvUnit], file: str, *, post: bool, check: _Checker
) -> dict[str, CsvUnit]:
    """Codes are unique within a file; each parent is in the file at the level above."""
    by_code: dict[str, CsvUnit] = {}
    for unit in rows:
        if unit.code in by_code:
            check.add(file, unit.row, "code", f"{unit.code} repeats row {by_code[unit.code].row}")
        else:
            by_code[unit.code] = unit
    parent_level = {"province": None, "district": "province", "commune": "province" if post else "district"}
    for unit in rows:
        if unit.level not in parent_level:
            continue
        wanted = parent_level[unit.level]
        if wanted is None:
            if unit.parent_code is not None:
                check.add(file, unit.row, "parent_code", "a province has no parent; leave it empty")
            continue
        parent = by_code.get(unit.parent_code or "")
        if unit.parent_code is None:
            check.add(file, unit.row, "parent_code", f"a {unit.level} needs its {wanted}'s code")
        elif parent is None:
            check.add(file, unit.row, "parent_code", f"unknown parent {unit.parent_code} (not in this file)")
        elif parent.level != wanted:
            check.add(
                file,
                unit.row,
                "parent_code",
                f"{unit.parent_code} is a {parent.level}; a {unit.level}'s parent must be a {wanted}",
            )
    return by_code


def _check_successions(
    pre: dict[str, CsvUnit], post_rows: list[CsvUnit], pre_file: str, post_file: str, check: _Checker
) -> None:
    """merged_from names earlier units of the same level; every earlier unit goes somewhere, splits are partial."""
    listed_by: dict[str, list[CsvUnit]] = defaultdict(list)
    for unit in post_rows:
        if unit.level == "commune" and not unit.merged_from:
            check.add(
                post_file, unit.row, "merged_from", "a commune must list the earlier communes it came from"
            )
        for code in unit.merged_from:
            earlier = pre.get(code)
            if earlier is None:
                check.add(post_file, unit.row, "merged_from", f"{code} is not in {pre_file}")
            elif earlier.level != unit.level:
                check.add(
                    post_file, unit.row, "merged_from", f"{code} is a {earlier.level}, not a {unit.level}"
                )
            else:
                listed_by[code].append(unit)
    for code, units in listed_by.items():
        if len(units) > 1:
            for unit in units:
                if code not in unit.partial_from:
                    others = ", ".join(u.code for u in units if u is not unit)
                    check.add(
                        post_file,
                        unit.row,
                        "merged_from_partial",
                        f"{code} also went into {others}, so it contributed only part of its area here",
                    )
    for code, unit in pre.items():
        if unit.level in ("province", "commune") and code not in listed_by:
            check.add(
                pre_file, unit.row, "code", f"{code} is in no merged_from of {post_file}: where did it go?"
            )


def build_plan(
    pre_text: str, post_text: str | None, *, pre_file: str = "pre", post_file: str = "post"
) -> LoadPlan:
    """Check unit lists (before and from 1 July 2025) and turn them into units and successions.

    Raises AdminUnitDataInvalid listing every fault by file, row and column; nothing is written then.
    """
    check = _Checker()
    pre_rows = _read_rows(pre_text, pre_file, post=False, check=check)
    post_rows = _read_rows(post_text, post_file, post=True, check=check) if post_text is not None else []
    pre = _check_codes_and_parents(pre_rows, pre_file, post=False, check=check)
    post = _check_codes_and_parents(post_rows, post_file, post=True, check=check)
    if post_text is not None and not check.errors:
        _check_successions(pre, post_rows, pre_file, post_file, check)
    if check.errors:
        raise AdminUnitDataInvalid([error.as_dict() for error in check.errors])
    return _plan(pre, post if post_text is not None else None)


def _kept_boundaries(province_code: str, post: dict[str, CsvUnit] | None) -> bool:
    """A province formed from itself alone (or with no later list) stays one unit across the reform."""
    if post is None:
        return True
    successor = post.get(province_code)
    return (
        successor is not None
        and successor.level == "province"
        and set(successor.merged_from) == {province_code}
        and not successor.partial_from
    )


def _plan(pre: dict[str, CsvUnit], post: dict[str, CsvUnit] | None) -> LoadPlan:
    """Validity dates and successions for checked lists (see the module docstring)."""

    def values(unit: CsvUnit, province: str, valid_from: date | None, valid_to: date | None) -> UnitValues:
        return UnitValues(
            unit.code,
            unit.name,
            fold(unit.name),
            unit.level,
            unit.unit_type,
            unit.parent_code,
            province,
            valid_from,
            valid_to,
        )

    kept = {code for code, unit in pre.items() if unit.level == "province" and _kept_boundaries(code, post)}
    units: list[UnitValues] = []
    successions: list[SuccessionValues] = []
    province_successors: dict[str, list[tuple[UnitKey, bool]]] = {
        code: [((code, None), False)] for code in kept
    }
    for unit in (post or {}).values():
        if unit.level == "province" and unit.code in kept:
            continue
        key: UnitKey = (unit.code, REFORM_DATE)
        province = unit.code if unit.level == "province" else unit.parent_code or ""
        units.append(values(unit, province, REFORM_DATE, None))
        for code in unit.merged_from:
            partial = code in unit.partial_from
            successions.append(SuccessionValues((code, None), key, partial))
            if unit.level == "province":
                province_successors.setdefault(code, []).append((key, partial))
    for unit in pre.values():
        if unit.level == "province":
            units.append(values(unit, unit.code, None, None if unit.code in kept else REFORM_DATE))
        elif unit.level == "district":
            province = unit.parent_code or ""
            units.append(values(unit, province, None, REFORM_DATE))
            for key, partial in province_successors.get(province, []):
                successions.append(SuccessionValues((unit.code, None), key, partial))
        else:
            province = pre[unit.parent_code or ""].parent_code or ""
            units.append(values(unit, province, None, REFORM_DATE))
    complete = frozenset(
        (code, None) for code, unit in pre.items() if post is not None or unit.level == "district"
    )
    return LoadPlan(tuple(units), tuple(successions), complete)


async def apply_plan(session: AsyncSession, plan: LoadPlan) -> LoadReport:
    """Write what differs from the database (bulk INSERT ... ON CONFLICT) in the caller's transaction."""
    repository = AdminUnitRepository(session)
    report = LoadReport()
    stored = await repository.units_by_keys(unit.key for unit in plan.units)
    # A fixed order keeps concurrent loaders from deadlocking on each other's row locks.
    changed = sorted(
        (unit for unit in plan.units if stored.get(unit.key) != unit),
        key=lambda unit: (unit.code, unit.valid_from or date.min),
    )
    if changed:
        report.units_inserted, report.units_updated = await repository.upsert_units(changed)
    report.units_unchanged = len(plan.units) - len(changed)
    predecessors = plan.complete_successions_of | {s.predecessor for s in plan.successions}
    current = await repository.successions_from(predecessors)
    wanted = set(plan.successions)
    missing = sorted(wanted - current, key=repr)
    if missing:
        report.successions_inserted, report.successions_updated = await repository.upsert_successions(missing)
    wanted_pairs = {(s.predecessor, s.successor) for s in wanted}
    stale = [
        s
        for s in current
        if s.predecessor in plan.complete_successions_of and (s.predecessor, s.successor) not in wanted_pairs
    ]
    if stale:
        await repository.delete_successions(stale)
        report.successions_deleted = len(stale)
    return report


async def load_admin_units(
    session: AsyncSession,
    pre_text: str,
    post_text: str | None,
    *,
    pre_file: str = "pre",
    post_file: str = "post",
) -> LoadReport:
    """Check and load unit lists in the caller's transaction; re-loading the same lists changes nothing."""
    return await apply_plan(session, build_plan(pre_text, post_text, pre_file=pre_file, post_file=post_file))


@lru_cache(maxsize=1)
def reference_plan() -> LoadPlan:
    """The shipped Quảng Ninh lists (province 22), checked once per process."""
    files = resources.files(REFERENCE_PACKAGE)
    pre = files.joinpath(REFERENCE_PRE_FILE).read_text(encoding="utf-8")
    post = files.joinpath(REFERENCE_POST_FILE).read_text(encoding="utf-8")
    return build_plan(pre, post, pre_file=REFERENCE_PRE_FILE, post_file=REFERENCE_POST_FILE)


async def load_reference_data(session: AsyncSession) -> None:
    """Load the shipped reference units; when they are already loaded this is two reads and no write."""
    await apply_plan(session, reference_plan())
