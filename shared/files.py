"""Uploaded workbooks are hostile until proven otherwise: checked as ZIP and XML before any parser sees them.

An XLSX file is a ZIP of XML parts. openpyxl expands the shared-string table into memory and follows
what the XML says, so a 0.2 MB workbook can ask for gigabytes or carry a DTD. ``check_workbook``
streams every part once, without parsing it, and refuses: too many parts, too many bytes once
uncompressed, any DTD or entity declaration, more shared strings, rows or cells than the limits, and a
workbook without a sheet. Every refusal is a ``HostileFile`` (a 4xx for the caller to report). Used by
the registry's imports and, later, by the scoring service's sheet imports.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO

CHUNK_BYTES = 1024 * 1024
# Enough overlap between chunks that a tag split across two is still seen.
OVERLAP_BYTES = 64

_DECLARATION = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_SHARED_STRING = re.compile(rb"<(?:\w+:)?si[\s>]")
_ROW = re.compile(rb"<(?:\w+:)?row[\s>/]")
_CELL = re.compile(rb"<(?:\w+:)?c[\s>/]")
_SHEET = re.compile(rb"<(?:\w+:)?sheet[\s/>]")


class HostileFile(Exception):
    """The file is refused before parsing; ``reason`` says why in words a user can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotAWorkbook(HostileFile):
    """The file is a damaged ZIP archive, or a ZIP archive of something other than a workbook."""


@dataclass(frozen=True)
class WorkbookLimits:
    """How large a workbook may be, counted before it is parsed."""

    max_parts: int = 1_000
    max_uncompressed_bytes: int = 256 * 1024 * 1024
    max_shared_strings: int = 1_000_000
    max_rows: int = 200_001
    max_cells: int = 5_000_000


def _count(part: IO[bytes], budget: list[int], name: str, *patterns: re.Pattern[bytes]) -> list[int]:
    """Occurrences of each pattern in a streamed part; refuses declarations and an overspent byte budget."""
    found = [0] * len(patterns)
    tail = b""
    while chunk := part.read(CHUNK_BYTES):
        budget[0] -= len(chunk)
        if budget[0] < 0:
            raise HostileFile("the workbook is too large once uncompressed")
        window = tail + chunk
        if _DECLARATION.search(window):
            raise HostileFile(f"the workbook declares a DTD or entities ({name}); save it again from Excel")
        # Matches are counted in the new bytes only: the overlap was counted with the previous chunk.
        for index, pattern in enumerate(patterns):
            found[index] += sum(1 for match in pattern.finditer(window) if match.end() > len(tail))
        tail = window[-OVERLAP_BYTES:]
    return found


def check_workbook(file: IO[bytes], limits: WorkbookLimits | None = None) -> None:
    """Refuse an XLSX file that is malformed as a ZIP or asks for more than ``limits``; reads it once."""
    limits = limits or WorkbookLimits()
    file.seek(0)
    try:
        with zipfile.ZipFile(file) as archive:
            parts = archive.infolist()
            if len(parts) > limits.max_parts:
                raise HostileFile(f"the workbook has {len(parts)} parts; at most {limits.max_parts} are read")
            names = {part.filename for part in parts}
            if "xl/workbook.xml" not in names:
                raise NotAWorkbook("the file is a ZIP archive but not an Excel workbook (no xl/workbook.xml)")
            budget = [limits.max_uncompressed_bytes]
            sheets = rows = cells = 0
            for part in parts:
                if part.is_dir():
                    continue
                name = part.filename
                is_xml = name.endswith((".xml", ".rels"))
                with archive.open(part) as stream:
                    if name == "xl/workbook.xml":
                        (sheets,) = _count(stream, budget, name, _SHEET)
                    elif name == "xl/sharedStrings.xml":
                        (strings,) = _count(stream, budget, name, _SHARED_STRING)
                        if strings > limits.max_shared_strings:
                            raise HostileFile(
                                f"the workbook has {strings} shared strings; at most "
                                f"{limits.max_shared_strings} are read"
                            )
                    elif name.startswith("xl/worksheets/") and is_xml:
                        sheet_rows, sheet_cells = _count(stream, budget, name, _ROW, _CELL)
                        rows, cells = rows + sheet_rows, cells + sheet_cells
                    elif is_xml:
                        _count(stream, budget, name)
                    else:
                        while chunk := stream.read(CHUNK_BYTES):
                            budget[0] -= len(chunk)
                            if budget[0] < 0:
                                raise HostileFile("the workbook is too large once uncompressed")
                if rows > limits.max_rows:
                    raise HostileFile(f"the workbook has more than {limits.max_rows} rows")
                if cells > limits.max_cells:
                    raise HostileFile(f"the workbook has more than {limits.max_cells} cells")
            if sheets == 0:
                raise HostileFile("the workbook has no sheets")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError,
            OSError) as exc:  # fmt: skip
        raise NotAWorkbook(f"the workbook cannot be read as a ZIP archive ({type(exc).__name__})") from exc
    finally:
        file.seek(0)
