"""Writing export files: CSV as a stream of encoded chunks, XLSX through openpyxl's write-only mode.

Memory stays flat whatever the number of rows: a write-only sheet goes to a temporary file row by row,
with inline strings (no shared-strings table), and ``save`` zips it to disk (100,000 products add about
1 MB to the process: docs/PERFORMANCE.md). The XLSX functions block (XML serialisation): the service
runs them in a worker thread.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from services.registry.files.columns import FORMULA_STARTS, FileLayout, value_to_cell, value_to_csv

# Excel only reads a CSV file as UTF-8 (Vietnamese names intact) when it starts with a byte-order mark.
UTF8_BOM = "\ufeff"
COLUMN_WIDTH = 24


def csv_header(layout: FileLayout) -> bytes:
    """The first bytes of a CSV export: the byte-order mark and the header line."""
    return (UTF8_BOM + _csv_line(layout.columns)).encode()


def _csv_line(values: Iterable[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()


def csv_rows(layout: FileLayout, rows: Iterable[Mapping[str, Any]]) -> bytes:
    """A batch of rows as encoded CSV lines."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([value_to_csv(layout.kinds[column], row[column]) for column in layout.columns])
    return buffer.getvalue().encode()


class XlsxExport:
    """A one-sheet workbook written row by row to disk (openpyxl write-only mode)."""

    def __init__(self, layout: FileLayout) -> None:
        self.layout = layout
        self.workbook = openpyxl.Workbook(write_only=True)
        self.sheet = self.workbook.create_sheet(layout.kind)
        for index in range(1, len(layout.columns) + 1):
            self.sheet.column_dimensions[get_column_letter(index)].width = COLUMN_WIDTH
        self.sheet.freeze_panes = "A2"
        bold = Font(bold=True)
        header = []
        for column in layout.columns:
            cell = WriteOnlyCell(self.sheet, value=column)
            cell.font = bold
            header.append(cell)
        self.sheet.append(header)

    def _cell(self, column: str, value: Any) -> Any:
        cell = value_to_cell(self.layout.kinds[column], value)
        if not isinstance(cell, str):
            return cell
        # openpyxl refuses control characters, which XML 1.0 cannot carry.
        cell = ILLEGAL_CHARACTERS_RE.sub("", cell)
        if cell.startswith(FORMULA_STARTS):
            # openpyxl would store "=..." as a formula; a registry value is always text.
            text_cell = WriteOnlyCell(self.sheet, value=cell)
            text_cell.data_type = "s"
            return text_cell
        return cell

    def append(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Add a batch of rows."""
        for row in rows:
            self.sheet.append([self._cell(column, row[column]) for column in self.layout.columns])

    def save(self, path: Path) -> None:
        """Write the workbook to ``path`` (once; a write-only workbook cannot be saved twice)."""
        self.workbook.save(path)
