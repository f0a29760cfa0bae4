"""Reading an uploaded score sheet workbook (XLSX) into drafted nodes; blocking, so run in a worker thread.

The first worksheet holds one row per node or option under a header row naming the columns (in any
order, case and spaces ignored):

| column | node row | option row |
|---|---|---|
| ``kind`` | ``node`` | ``option`` |
| ``code`` | ``A``, ``A.1``, ``A.1.2`` | ``a``, ``b``… (unique within its criterion) |
| ``parent`` | the parent node's code; empty for a part | the code of the leaf criterion it belongs to |
| ``title`` | the node's title | the option's label |
| ``max_points`` | the node's maximum | empty |
| ``points`` | empty | the option's points |
| ``mandatory_for_3_star`` | ``yes`` / ``no`` (empty: no); optional column | empty |
| ``eliminating`` | ``yes`` / ``no`` (empty: no); optional column | empty |

Rows may come in any order; siblings keep the order of their rows. Blank rows are skipped. The file
is checked as ZIP and XML (``shared.files.check_workbook``) before openpyxl opens it, read-only.
A fault is named ``file.rows.<row number>.<column>`` (the header is row 1).
"""

from __future__ import annotations

import warnings
import zipfile
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import IO, Any

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from services.scoring.criteria.validation import NodeDraft, OptionDraft
from shared.files import WorkbookLimits, check_workbook
from shared.textguard import forbidden_character

REQUIRED_COLUMNS = ("kind", "code", "parent", "title", "max_points", "points")
FLAG_COLUMNS = ("mandatory_for_3_star", "eliminating")
# A sheet is a few hundred rows: anything far beyond is not a score sheet.
MAX_ROWS = 5000
LIMITS = WorkbookLimits(
    max_parts=100, max_uncompressed_bytes=32 * 1024 * 1024, max_shared_strings=100_000,
    max_rows=MAX_ROWS + 1, max_cells=MAX_ROWS * 20,
)  # fmt: skip
TRUE = {"yes", "y", "true", "1", "x", "có", "co"}
FALSE = {"no", "n", "false", "0", "", "không", "khong"}
MAX_TEXT = {"code": 40, "parent": 40, "title": 500}


class UnreadableWorkbook(Exception):
    """The workbook cannot be opened or read; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class ReadSheet:
    """The nodes a workbook drafts, and the faults of its rows (the nodes are incomplete when there are any)."""

    nodes: list[NodeDraft]
    errors: list[dict[str, Any]]


def _header(cell: object) -> str:
    return "_".join(str(cell or "").strip().lower().split())


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a code typed as a number (option "1") comes back as 1.0
    return str(value).strip()


def _number(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool) or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not number.is_finite():
        raise ValueError("not a number")
    return number


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError("yes or no")


class _Rows:
    """Collects the drafts and faults of the data rows."""

    def __init__(self) -> None:
        self.nodes: list[NodeDraft] = []
        self.options: list[tuple[str, OptionDraft, int]] = []
        self.errors: list[dict[str, Any]] = []

    def fault(self, number: int, column: str, message: str, kind: str = "invalid") -> None:
        self.errors.append({"field": f"file.rows.{number}.{column}", "message": message, "type": kind})

    def add(self, number: int, cells: dict[str, object]) -> None:
        where = f"file.rows.{number}"
        texts: dict[str, str] = {}
        for column in ("kind", "code", "parent", "title"):
            text = _text(cells.get(column))
            if len(text) > MAX_TEXT.get(column, 40):
                self.fault(number, column, f"at most {MAX_TEXT.get(column, 40)} characters", "too_long")
            elif forbidden_character(text, allow_whitespace=True) is not None:
                self.fault(number, column, "control characters are not allowed", "control_character")
            texts[column] = text
        numbers: dict[str, Decimal | None] = {}
        for column in ("max_points", "points"):
            try:
                numbers[column] = _number(cells.get(column))
            except ValueError:
                self.fault(number, column, "a number such as 5 or 2.5", "number")
                numbers[column] = None
        flags: dict[str, bool] = {}
        for column in FLAG_COLUMNS:
            try:
                flags[column] = _flag(cells.get(column))
            except ValueError:
                self.fault(number, column, "yes or no (empty: no)", "flag")
                flags[column] = False
        for column in ("code", "title"):
            if not texts[column]:
                self.fault(number, column, "required", "missing")
        kind = texts["kind"].lower()
        if kind == "node":
            if numbers["max_points"] is None:
                self.fault(number, "max_points", "a node's maximum is required", "missing")
            if numbers["points"] is not None:
                self.fault(number, "points", "a node has a maximum (max_points), not points")
            self.nodes.append(NodeDraft(
                texts["code"], texts["parent"] or None, texts["title"], numbers["max_points"] or Decimal(0),
                where, mandatory_for_3_star=flags["mandatory_for_3_star"], eliminating=flags["eliminating"],
            ))  # fmt: skip
        elif kind == "option":
            if not texts["parent"]:
                self.fault(number, "parent", "an option names the criterion it belongs to", "missing")
            if numbers["points"] is None:
                self.fault(number, "points", "an option's points are required", "missing")
            if numbers["max_points"] is not None:
                self.fault(number, "max_points", "an option has points, not a maximum")
            if any(flags.values()):
                self.fault(number, "mandatory_for_3_star" if flags["mandatory_for_3_star"] else "eliminating",
                           "flags belong on criteria (node rows), not on options")  # fmt: skip
            option = OptionDraft(texts["code"], texts["title"], numbers["points"] or Decimal(0), where)
            self.options.append((texts["parent"], option, number))
        else:
            self.fault(number, "kind", "node or option", "enum")

    def sheet(self) -> ReadSheet:
        """The nodes with their options attached; an option whose criterion is not a node is an orphan."""
        by_code = {node.code: node for node in self.nodes}
        for parent, option, number in self.options:
            node = by_code.get(parent)
            if node is None:
                if parent:
                    self.fault(number, "parent", f"{parent} is not a node of the sheet", "orphan")
                continue
            node.options.append(option)
        return ReadSheet(self.nodes, self.errors)


def read_sheet(file: IO[bytes]) -> ReadSheet:
    """The drafted nodes of an uploaded workbook (``HostileFile`` / ``UnreadableWorkbook`` if it cannot be read)."""
    check_workbook(file, LIMITS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise UnreadableWorkbook("the workbook cannot be opened") from exc
    try:
        if not workbook.worksheets:
            raise UnreadableWorkbook("the workbook has no worksheet")
        rows = enumerate(workbook.worksheets[0].iter_rows(values_only=True), start=1)
        first = next(rows, None)
        columns = [_header(cell) for cell in (first[1] if first else ())]
        missing = [column for column in REQUIRED_COLUMNS if column not in columns]
        if missing:
            return ReadSheet([], [{"field": "file.header", "message": f"missing columns: {', '.join(missing)} "
                                   f"(the first row names the columns)", "type": "missing"}])  # fmt: skip
        read = _Rows()
        for number, cells in rows:
            if all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells):
                continue
            read.add(number, {column: cell for column, cell in zip(columns, cells, strict=False) if column})
        return read.sheet()
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise UnreadableWorkbook("the workbook is damaged") from exc
    finally:
        workbook.close()
