"""The stamps' printing outputs: QR codes, CSV and ZIP exports, PDF label sheets, streamed in bounded memory."""

from __future__ import annotations

import csv
import io
import math
import re
import struct
import tracemalloc
import zipfile
import zlib
from collections.abc import AsyncIterable, AsyncIterator
from xml.etree import ElementTree

import pytest

from services.stamps.printing import exports, labels, qr, sheets
from services.stamps.printing.labels import Label, PrintStamp
from shared import gs1

GTIN = "8934567000017"
HOST = "tem.ocop.example.vn"
URI = "HTTPS://TEM.OCOP.EXAMPLE.VN/01/08934567000017/21/7K3Q9M2XH4TB8VNCF9"  # TRACEABILITY §4.3's example


class Source:
    """``count`` new stamps, drawn a thousand at a time (never the whole batch), counting how many were taken."""

    def __init__(self, count: int, lot: str | None = "L2407A") -> None:
        self.count = count
        self.lot = lot
        self.taken = 0

    async def stamps(self) -> AsyncIterator[PrintStamp]:
        left = self.count
        while left:
            chunk = min(left, 1000)
            left -= chunk
            for serial in gs1.new_serials(chunk):
                self.taken += 1
                yield PrintStamp(serial, self.lot)

    def labels(self) -> AsyncIterator[Label]:
        return labels.labels(self.stamps(), gtin=GTIN, host=HOST)

    async def unchecked_labels(self) -> AsyncIterator[Label]:
        """Labels made without GS1's checks or a generator between (tracemalloc makes both slow), for memory tests."""
        left = self.count
        while left:
            chunk = min(left, 1000)
            left -= chunk
            for serial in gs1.new_serials(chunk):
                self.taken += 1
                uri = f"HTTPS://TEM.OCOP.EXAMPLE.VN/01/08934567000017/10/{self.lot}/21/{serial}"
                yield Label(serial, gs1.grouped(serial), uri, self.lot)


async def collect(chunks: AsyncIterable[bytes]) -> list[bytes]:
    return [chunk async for chunk in chunks]


async def peak_memory(chunks: AsyncIterable[bytes]) -> tuple[int, int]:
    """The bytes ``chunks`` yield and the peak traced memory while they are produced (each chunk dropped)."""
    tracemalloc.start()
    try:
        total = 0
        async for chunk in chunks:
            total += len(chunk)
        return total, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# QR codes


def test_a_67_character_link_is_alphanumeric_version_4_at_level_m() -> None:
    code = qr.qr_code(URI)
    assert len(URI) == 67
    assert (code.mode, code.version, code.error, code.is_micro) == ("alphanumeric", 4, "M", False)
    assert qr.side(code) == 17 + 4 * 4 + 2 * 4  # 33 modules and a quiet zone of 4 on each side


def test_a_link_with_a_lot_stays_alphanumeric_at_level_m() -> None:
    uri = gs1.digital_link(GTIN, "7K3Q9M2XH4TB8VNCF9", "L2407A").uri(HOST)
    code = qr.qr_code(uri)
    assert len(uri) == 77
    assert (code.mode, code.version, code.error) == ("alphanumeric", 4, "M")


def test_a_lower_case_link_is_refused_rather_than_coded_in_byte_mode() -> None:
    with pytest.raises(ValueError, match="alphanumeric"):
        qr.qr_code(URI.lower())


def test_the_svg_is_xml_with_every_dark_module_and_the_quiet_zone() -> None:
    root = ElementTree.fromstring(qr.svg(URI))  # noqa: S314 (our own SVG, not untrusted)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert (root.get("width"), root.get("height")) == ("41", "41")
    (path,) = root.iter("{http://www.w3.org/2000/svg}path")
    drawn = path.get("d") or ""
    dark = sum(sum(row) for row in qr.modules(qr.qr_code(URI)))
    assert sum(int(run) for run in re.findall(r"h(\d+)", drawn)) == dark
    assert drawn.startswith("M4 4.5")  # the first row starts after 4 light modules


def test_the_svg_can_be_sized_in_millimetres() -> None:
    root = ElementTree.fromstring(qr.svg(URI, scale=0.4, unit="mm"))  # noqa: S314 (our own SVG)
    width = root.get("width") or ""
    assert width.endswith("mm")
    assert float(width[:-2]) == pytest.approx(
        16.4
    )  # TRACEABILITY §4.3: 0.40 mm modules, 16.4 mm with the quiet zone


def test_the_png_is_a_png_of_the_symbol_and_its_quiet_zone() -> None:
    data = qr.png(URI, scale=5)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    _length, kind, width, height = struct.unpack(">I4sII", data[8:24])
    assert (kind, width, height) == (b"IHDR", 41 * 5, 41 * 5)
    assert data[-8:-4] == b"IEND"


# CSV and ZIP


async def test_the_csv_has_a_header_and_a_row_a_stamp() -> None:
    source = Source(3000)
    chunks = await collect(exports.csv_chunks(source.labels()))
    assert len(chunks) > 1  # streamed
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8"), newline="")))
    assert rows[0] == ["serial", "grouped_serial", "uri", "lot"]
    assert len(rows) == 3001
    serials = {row[0] for row in rows[1:]}
    assert len(serials) == 3000
    for serial, grouped, uri, lot in rows[1:]:
        assert gs1.serial_problem(serial) is None
        assert grouped == gs1.grouped(serial)
        assert len(grouped) == 22
        assert gs1.parse_uri(uri) == gs1.DigitalLink("08934567000017", serial, "L2407A")
        assert uri.startswith("HTTPS://TEM.OCOP.EXAMPLE.VN/01/08934567000017/10/L2407A/21/")
        assert lot == "L2407A"


async def test_a_stamp_without_a_lot_has_an_empty_lot_and_no_ai_10() -> None:
    (chunk,) = await collect(exports.csv_chunks(Source(1, lot=None).labels()))
    _, (serial, _, uri, lot) = list(csv.reader(io.StringIO(chunk.decode())))
    assert (uri, lot) == (f"HTTPS://TEM.OCOP.EXAMPLE.VN/01/08934567000017/21/{serial}", "")


async def test_the_first_csv_chunk_comes_before_the_batch_is_read() -> None:
    source = Source(5000)
    chunks = exports.csv_chunks(source.labels(), chunk_bytes=4096)
    await anext(chunks)
    assert source.taken < 100
    await chunks.aclose()


async def test_the_zip_holds_the_csv_and_an_svg_a_stamp() -> None:
    source = Source(120)
    archive = zipfile.ZipFile(
        io.BytesIO(b"".join(await collect(exports.zip_chunks(source.labels(), svgs=True))))
    )
    assert archive.testzip() is None
    names = archive.namelist()
    assert len(names) == 121
    assert names[-1] == "stamps.csv"
    rows = list(csv.reader(io.StringIO(archive.read("stamps.csv").decode())))[1:]
    assert len(rows) == 120
    assert sorted(names[:-1]) == sorted(f"qr/{row[0]}.svg" for row in rows)
    serial, _, uri, _ = rows[7]
    assert archive.read(f"qr/{serial}.svg") == qr.svg(uri)


async def test_a_large_batch_zips_the_csv_alone() -> None:
    assert exports.with_svgs(exports.MAX_SVG_ENTRIES)
    assert not exports.with_svgs(exports.MAX_SVG_ENTRIES + 1)
    archive = zipfile.ZipFile(
        io.BytesIO(b"".join(await collect(exports.zip_chunks(Source(2500).labels(), svgs=False))))
    )
    assert archive.namelist() == ["stamps.csv"]
    assert len(archive.read("stamps.csv").decode().splitlines()) == 2501


async def test_svgs_past_the_limit_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exports, "MAX_SVG_ENTRIES", 5)
    with pytest.raises(exports.TooManyForSvgs):
        await collect(exports.zip_chunks(Source(6).labels(), svgs=True))


async def test_the_zip_streams_while_the_batch_is_read() -> None:
    source = Source(3000)
    chunks = exports.zip_chunks(source.labels(), svgs=False)
    await anext(chunks)
    assert source.taken < 1000
    await chunks.aclose()


async def test_a_200000_stamp_csv_stays_in_bounded_memory() -> None:
    size, peak = await peak_memory(exports.csv_chunks(Source(200_000).unchecked_labels()))
    assert size > 200_000 * 120  # about 128 bytes a row: the whole CSV would be 25 MB
    assert peak < 2_000_000


async def test_a_50000_stamp_zip_stays_in_bounded_memory() -> None:
    size, peak = await peak_memory(exports.zip_chunks(Source(50_000).unchecked_labels(), svgs=False))
    assert size > 1_000_000
    assert peak < 2_000_000  # the CSV inside is 6.4 MB


# PDF label sheets


def page_contents(document: bytes) -> bytes:
    """Every page content stream of ``document``, inflated."""
    out = []
    for entries, data in re.findall(
        rb"<< /Length \d+( /Filter /FlateDecode)? >>\nstream\n(.*?)\nendstream", document, re.S
    ):
        out.append(zlib.decompress(data) if entries else data)
    return b"\n".join(out)


async def test_sheets_are_a_pdf_of_a_page_per_35_labels() -> None:
    source = Source(80)
    items = [item async for item in source.labels()]

    async def replay() -> AsyncIterator[Label]:
        for item in items:
            yield item

    chunks = await collect(sheets.pdf_chunks(replay(), domain=HOST))
    document = b"".join(chunks)
    assert document.startswith(b"%PDF-1.4\n")
    assert document.endswith(b"%%EOF\n")
    pages = math.ceil(80 / sheets.Layout().per_page)
    assert len(re.findall(rb"/Type /Page\b", document)) == pages == 3
    assert b"/Type /Pages /Count 3 " in document
    assert len(chunks) == pages + 1  # the font first, a chunk a page, the last page with the index
    # Every offset in the cross-reference table points at its object.
    start = int(document.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    table = document[start:].split(b"trailer")[0].split(b"\n")[3:-1]
    for number, line in enumerate(table, start=1):
        offset = int(line[:10])
        assert document[offset:].startswith(b"%d 0 obj\n" % number)
    contents = page_contents(document)
    for item in items:
        assert b"(%s) Tj" % item.grouped.encode() in contents
    assert contents.count(b"(tem.ocop.example.vn) Tj") == 80
    assert contents.count(b" re\n") > 80 * 200  # the codes are drawn as vector runs of modules


async def test_the_caption_is_vietnamese_in_the_embedded_font() -> None:
    document = b"".join(await collect(sheets.pdf_chunks(Source(1).labels(), domain=HOST, compress=False)))
    assert b"/Subtype /TrueType /BaseFont /AAAAAA+DejaVuSans" in document
    assert b"/FontFile2" in document
    contents = page_contents(document)
    assert b"(Tem OCOP \\200 Qu\\203t m\\202 \\204\\205 x\\201c th\\206c) Tj" in contents
    to_unicode = page_contents(document)
    for char in "·éãđểáự":
        assert b"<%04X>" % ord(char) in to_unicode  # the codes map back to the letters (copy, search)


async def test_a_layout_that_does_not_fit_names_its_field() -> None:
    with pytest.raises(sheets.LayoutError) as error:
        sheets.Layout(columns=6)
    assert error.value.field == "columns"
    with pytest.raises(sheets.LayoutError) as error:
        sheets.Layout(qr_size=37)
    assert error.value.field == "qr_size"
    with pytest.raises(sheets.LayoutError) as error:
        sheets.Layout(label_height=28, rows=7)
    assert error.value.field == "label_height"
    assert sheets.Layout(columns=3, rows=2, label_width=60, label_height=60).per_page == 6


async def test_a_caption_letter_the_font_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="no glyph"):
        await collect(
            sheets.pdf_chunks(Source(1).labels(), domain=HOST, layout=sheets.Layout(caption="検証"))
        )


async def test_sheets_stream_a_page_at_a_time_in_bounded_memory() -> None:
    source = Source(140)
    chunks = sheets.pdf_chunks(source.labels(), domain=HOST)
    await anext(chunks)  # the font
    await anext(chunks)  # the first sheet
    assert source.taken == 35
    await chunks.aclose()
    size, peak = await peak_memory(sheets.pdf_chunks(Source(70).labels(), domain=HOST))
    assert size > 2 * 30_000
    assert peak < 8_000_000  # the font's parse is most of it; a page's content is about 60 kB
