"""Reading uploaded CSV and XLSX files row by row, never the whole file at once.

These functions block (file I/O, XML parsing): the service runs them in a worker thread.
"""

from __future__ import annotations

import codecs
import csv
import io
import pickle
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from services.registry.files.columns import FileFormat, normalise_header
from shared.files import NotAWorkbook, check_workbook

SNIFF_BYTES = 64 * 1024
ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls (and .doc) files
# A CSV cell may hold a product's story (20,000 characters); the csv module's default limit is 128 KiB.
CSV_FIELD_LIMIT = 1024 * 1024


class UnreadableFile(Exception):
    """The file stopped making sense part-way (bad UTF-8, a broken archive): ``row`` is where."""

    def __init__(self, row: int | None, message: str) -> None:
        super().__init__(message)
        self.row = row
        self.message = message


@dataclass
class RawRow:
    """One data row: its number as a spreadsheet shows it (the header is row 1) and its cells."""

    number: int
    cells: dict[str, Any]
    # Cells beyond the header's last column that are not empty.
    overflow: int = 0


@dataclass
class Table:
    """An open file: its header (as written) and an iterator over its non-blank data rows.

    Each row's cells are keyed by the normalised header names.
    """

    header: list[object]
    rows: Iterator[RawRow]
    closers: list[Any] = field(default_factory=list)

    def close(self) -> None:
        """Release what reading held (the workbook archive); the upload itself stays open."""
        for closer in self.closers:
            closer()


class RowSpool:
    """The raw rows of a workbook kept on disk by the first pass, so the second need not parse it again.

    Parsing XLSX is by far the slowest step of an import (openpyxl reads a few thousand rows a second).
    """

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close(), after the second pass

    def write(self, rows: list[RawRow]) -> None:
        """Append a batch of rows."""
        batch = [(row.number, row.cells, row.overflow) for row in rows]
        pickle.dump(batch, self.file, protocol=pickle.HIGHEST_PROTOCOL)

    def table(self) -> Table:
        """The spooled rows, from the first, as a table (its header was checked by the first pass)."""
        self.file.seek(0)
        return Table([], self._rows())

    def _rows(self) -> Iterator[RawRow]:
        while True:
            try:
                # Our own temporary file, written by this process moments ago: never client bytes.
                batch = pickle.load(self.file)  # noqa: S301
            except EOFError:
                return
            for number, cells, overflow in batch:
                yield RawRow(number, cells, overflow)

    def close(self) -> None:
        """Delete the spool."""
        self.file.close()


def detect_format(file: IO[bytes]) -> FileFormat | str:
    """``csv`` or ``xlsx`` judged by content, or a sentence saying why the file is neither."""
    file.seek(0)
    head = file.read(SNIFF_BYTES)
    file.seek(0)
    if head.startswith(ZIP_MAGIC):
        # Checked as ZIP and XML, never opened by openpyxl here: a hostile workbook is refused cheaply
        # (shared.files.HostileFile) before any job exists.
        try:
            check_workbook(file)
        except NotAWorkbook as exc:
            return exc.reason.removeprefix("the file is ")
        return "xlsx"
    if head.startswith(OLE2_MAGIC):
        return "a legacy Excel 97–2003 file (.xls): save it as .xlsx or as CSV UTF-8"
    if b"\x00" in head:
        return "a binary file, not CSV text"
    try:
        # final=False: the sample may end inside a multi-byte character.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "text that is not UTF-8 (save it as CSV UTF-8)"
    return "csv"


def _trimmed(header: list[object]) -> list[object]:
    """The header without its trailing empty cells (cells under them then count as overflow)."""
    while header and normalise_header(header[-1]) == "":
        header.pop()
    return header


def _is_blank(cells: tuple[Any, ...] | list[Any]) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def _rows(records: Iterator[tuple[int, list[Any] | tuple[Any, ...]]], columns: list[str]) -> Iterator[RawRow]:
    width = len(columns)
    for number, cells in records:
        if _is_blank(cells):
            continue
        overflow = sum(1 for cell in cells[width:] if not _is_blank([cell]))
        yield RawRow(number, dict(zip(columns, cells, strict=False)), overflow)


def _csv_delimiter(first_line: str) -> str:
    """Comma, unless the header uses semicolons (Excel's list separator in a Vietnamese locale)."""
    candidates = {delimiter: first_line.count(delimiter) for delimiter in (",", ";", "\t")}
    best = max(candidates, key=lambda delimiter: candidates[delimiter])
    return best if candidates[best] else ","


def open_csv(file: IO[bytes]) -> Table:
    """Open a CSV file (UTF-8, with or without BOM)."""
    file.seek(0)
    csv.field_size_limit(CSV_FIELD_LIMIT)
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    try:
        first_line = text.readline()
    except UnicodeDecodeError as exc:
        text.detach()
        raise UnreadableFile(1, "the header is not UTF-8 text") from exc
    reader = csv.reader(_chain_first(first_line, text), delimiter=_csv_delimiter(first_line))
    try:
        header = _trimmed(list(next(reader, [])))
    except csv.Error as exc:
        text.detach()
        raise UnreadableFile(1, f"the header is not valid CSV: {exc}") from exc
    columns = [normalise_header(cell) for cell in header]

    def records() -> Iterator[tuple[int, list[str]]]:
        number = 1
        try:
            for number, record in enumerate(reader, start=2):
                yield number, record
        except UnicodeDecodeError as exc:
            raise UnreadableFile(_line_of(file, exc), "the file is not UTF-8 text from here on") from exc
        except csv.Error as exc:
            raise UnreadableFile(number + 1, f"not valid CSV: {exc}") from exc

    return Table(header, _rows(records(), columns), [text.detach])


def _line_of(file: IO[bytes], exc: UnicodeDecodeError) -> int:
    """The line holding the first byte that is not UTF-8 (text is decoded a chunk at a time, so the
    row being read when decoding failed may be well before it)."""
    remaining = file.tell() - len(exc.object) + exc.start
    file.seek(0)
    line = 1
    while remaining > 0 and (chunk := file.read(min(remaining, SNIFF_BYTES))):
        line += chunk.count(b"\n")
        remaining -= len(chunk)
    return line


def _chain_first(first_line: str, rest: io.TextIOWrapper) -> Iterator[str]:
    yield first_line
    # Not "yield from": closing this generator would then close the wrapper, and with it the upload.
    for line in rest:  # noqa: UP028
        yield line


def open_xlsx(file: IO[bytes]) -> Table:
    """Open the first worksheet of a workbook in read-only (streaming) mode."""
    file.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise UnreadableFile(None, "the workbook cannot be opened") from exc
    sheet = workbook.worksheets[0]
    # Row numbers matter for the error report, and read-only mode yields blank rows as empty tuples.
    numbered = enumerate(sheet.iter_rows(values_only=True), start=1)
    first = next(numbered, None)
    header = _trimmed(list(first[1]) if first else [])
    columns = [normalise_header(cell) for cell in header]

    def records() -> Iterator[tuple[int, tuple[Any, ...]]]:
        number = 1
        try:
            for number, cells in numbered:
                yield number, cells
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise UnreadableFile(number + 1, "the workbook is damaged from here on") from exc

    return Table(header, _rows(records(), columns), [workbook.close])


def open_table(file: IO[bytes], file_format: FileFormat) -> Table:
    """Open an uploaded file of the given format for reading."""
    return open_xlsx(file) if file_format == "xlsx" else open_csv(file)
