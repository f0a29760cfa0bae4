"""CSV and ZIP exports of a batch's labels, produced as a stream of byte chunks.

Memory is bounded whatever the batch size: the CSV holds at most one chunk (``CHUNK_BYTES``) before it
is yielded; the ZIP writes into a buffer that is emptied after every entry (and, for the CSV entry,
every chunk), and the CSV that goes beside the SVGs is spooled to a temporary file past ``SPOOL_BYTES``.
What still grows is zipfile's central directory, about 100 bytes per entry, which is why SVGs go into the
ZIP only up to ``MAX_SVG_ENTRIES`` stamps: beyond that the ZIP holds the CSV alone (one entry), and a
printer renders the codes from its URI column (variable-data printing) or takes the PDF sheets.
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
import zipfile
from collections.abc import AsyncIterable, AsyncIterator

from services.stamps.printing import qr
from services.stamps.printing.labels import Label

CSV_HEADER = ("serial", "grouped_serial", "uri", "lot")
CSV_NAME = "stamps.csv"
CHUNK_BYTES = 64 * 1024
SPOOL_BYTES = 1024 * 1024
MAX_SVG_ENTRIES = 10_000


class TooManyForSvgs(ValueError):
    """A ZIP with one SVG per stamp was asked for more than MAX_SVG_ENTRIES stamps."""


def with_svgs(quantity: int) -> bool:
    """Whether a ZIP of ``quantity`` stamps holds one SVG per stamp (else the CSV alone)."""
    return quantity <= MAX_SVG_ENTRIES


class _Rows:
    """CSV rows written into a text buffer, taken out as UTF-8 bytes."""

    def __init__(self) -> None:
        self._text = io.StringIO()
        self._writer = csv.writer(self._text, lineterminator="\r\n")
        # Counted here: StringIO.tell() copies the buffer out each time, quadratic in the chunk.
        self._size = int(self._writer.writerow(CSV_HEADER))

    def add(self, item: Label) -> None:
        self._size += int(self._writer.writerow((item.serial, item.grouped, item.uri, item.lot or "")))

    def size(self) -> int:
        return self._size

    def take(self) -> bytes:
        data = self._text.getvalue().encode()
        self._text = io.StringIO()
        self._writer = csv.writer(self._text, lineterminator="\r\n")
        self._size = 0
        return data


async def csv_chunks(items: AsyncIterable[Label], *, chunk_bytes: int = CHUNK_BYTES) -> AsyncIterator[bytes]:
    """The CSV (UTF-8, header row, RFC 4180 line ends) of ``items``, in chunks of about ``chunk_bytes``."""
    rows = _Rows()
    async for item in items:
        rows.add(item)
        if rows.size() >= chunk_bytes:
            yield rows.take()
    tail = rows.take()
    if tail:
        yield tail


class _Sink(io.RawIOBase):
    """An unseekable file that keeps what zipfile writes until it is taken (zipfile then writes data descriptors)."""

    def __init__(self) -> None:
        super().__init__()
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        chunk = bytes(data)  # type: ignore[call-overload]  # a bytes-like object, per io.RawIOBase
        self._chunks.append(chunk)
        return len(chunk)

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def svg_name(item: Label) -> str:
    """The file name of a stamp's SVG in the ZIP."""
    return f"qr/{item.serial}.svg"


async def zip_chunks(items: AsyncIterable[Label], *, svgs: bool) -> AsyncIterator[bytes]:
    """A ZIP of the CSV (``stamps.csv``), with ``qr/<serial>.svg`` per stamp if ``svgs``, as byte chunks.

    With SVGs, the CSV is written beside them into a spooled file and added last; TooManyForSvgs (raised
    before the first chunk only if the caller ignored ``with_svgs``) past MAX_SVG_ENTRIES stamps.
    """
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        if not svgs:
            rows = _Rows()
            with archive.open(CSV_NAME, "w", force_zip64=True) as entry:
                async for item in items:
                    rows.add(item)
                    if rows.size() >= CHUNK_BYTES:
                        entry.write(rows.take())
                        yield sink.take()
                entry.write(rows.take())
        else:
            with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
                rows = _Rows()
                count = 0
                async for item in items:
                    count += 1
                    if count > MAX_SVG_ENTRIES:
                        raise TooManyForSvgs(f"more than {MAX_SVG_ENTRIES} stamps: export the CSV alone")
                    rows.add(item)
                    if rows.size() >= CHUNK_BYTES:
                        spool.write(rows.take())
                    archive.writestr(svg_name(item), qr.svg(item.uri))
                    yield sink.take()
                spool.write(rows.take())
                spool.seek(0)
                with archive.open(CSV_NAME, "w", force_zip64=True) as entry:
                    shutil.copyfileobj(spool, entry, CHUNK_BYTES)
    yield sink.take()
