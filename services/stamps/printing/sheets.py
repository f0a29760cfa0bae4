"""PDF label sheets: N×M labels a page, each the stamp's QR (vector), its grouped serial and the resolver's domain.

The QR is drawn from segno's matrix as filled rectangles, one per run of dark modules in a row, all in
one path: vector, so it prints sharp at any resolution, and the very code the SVG and PNG carry
(alphanumeric, level M), where reportlab's own QR widget would encode the URI its own way. Pages are
streamed (see pdf.py): memory holds one page's content and 16 bytes per object already written.
"""

from __future__ import annotations

import asyncio
from array import array
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, fields
from pathlib import Path

from services.stamps.printing import pdf, qr
from services.stamps.printing.labels import Label

FONT = Path(__file__).parent / "fonts" / "DejaVuSans.ttf"  # Bitstream Vera licence: fonts/LICENSE
MM = 72 / 25.4  # points per millimetre
CAPTION = "Tem OCOP · Quét mã để xác thực"


class LayoutError(ValueError):
    """A label sheet layout that cannot be printed; ``field`` names the setting."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Layout:
    """A sheet's geometry in millimetres (A4 by default: 5 × 7 labels of 38 × 40 mm) and its text sizes in points."""

    page_width: float = 210
    page_height: float = 297
    columns: int = 5
    rows: int = 7
    label_width: float = 38
    label_height: float = 40
    margin_left: float = 10
    margin_top: float = 8.5
    gap_x: float = 0
    gap_y: float = 0
    qr_size: float = 24  # the symbol with its quiet zone: 0.59 mm a module at version 4
    padding: float = 2
    serial_size: float = 7.5
    domain_size: float = 6.5
    caption_size: float = 5.5
    caption: str = CAPTION

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name not in ("caption", "gap_x", "gap_y", "margin_left", "margin_top") and value <= 0:
                raise LayoutError(item.name, "must be positive")
            if item.name in ("gap_x", "gap_y", "margin_left", "margin_top") and value < 0:
                raise LayoutError(item.name, "must not be negative")
        if (
            self.margin_left + self.columns * self.label_width + (self.columns - 1) * self.gap_x
            > self.page_width
        ):
            raise LayoutError("columns", "the labels are wider than the page")
        if self.margin_top + self.rows * self.label_height + (self.rows - 1) * self.gap_y > self.page_height:
            raise LayoutError("rows", "the labels are taller than the page")
        if self.qr_size + 2 * self.padding > min(self.label_width, self.label_height):
            raise LayoutError("qr_size", "the code and its padding do not fit the label")
        text = (self.serial_size + self.domain_size + self.caption_size) * 1.2 / MM
        if self.padding + self.qr_size + text > self.label_height:
            raise LayoutError("label_height", "the code and the text lines do not fit the label")

    @property
    def per_page(self) -> int:
        """Labels on one sheet."""
        return self.columns * self.rows


def _n(value: float) -> bytes:
    return b"%.3f" % value


def _qr(item: Label, x: float, top: float, size: float) -> bytes:
    """The content-stream operators filling ``item``'s code in the square of side ``size`` at (x, top)."""
    code = qr.qr_code(item.uri)
    module = size / qr.side(code)
    out = []
    for r, row in enumerate(qr.modules(code)):
        y = _n(top - (qr.QUIET_ZONE + r + 1) * module)
        height = _n(module)
        c, width = 0, len(row)
        while c < width:
            if row[c]:
                start = c
                while c < width and row[c]:
                    c += 1
                left = x + (qr.QUIET_ZONE + start) * module
                out.append(b"%s %s %s %s re" % (_n(left), y, _n((c - start) * module), height))
            c += 1
    return b"\n".join(out) + b"\nf\n"


def _text(font: pdf.Font, text: str, size: float, centre: float, baseline: float, room: float) -> bytes:
    """``text`` centred on ``centre``, its size shrunk if it would be wider than ``room``."""
    width = font.width(text, size)
    if width > room:
        size, width = size * room / width, room
    return b"BT /F1 %s Tf %s %s Td %s Tj ET\n" % (
        _n(size), _n(centre - width / 2), _n(baseline), font.literal(text))  # fmt: skip


def _label(font: pdf.Font, layout: Layout, item: Label, domain: str, x: float, top: float) -> bytes:
    """One label: its code, then the grouped serial, the domain and the caption under it."""
    width = layout.label_width * MM
    size = layout.qr_size * MM
    qr_top = top - layout.padding * MM
    centre = x + width / 2
    room = width - 2 * layout.padding * MM
    baseline = qr_top - size - layout.serial_size
    parts = [
        _qr(item, centre - size / 2, qr_top, size),
        _text(font, item.grouped, layout.serial_size, centre, baseline, room),
    ]
    baseline -= layout.domain_size * 1.2
    parts.append(_text(font, domain, layout.domain_size, centre, baseline, room))
    if layout.caption:
        baseline -= layout.caption_size * 1.2
        parts.append(_text(font, layout.caption, layout.caption_size, centre, baseline, room))
    return b"".join(parts)


def _page(font: pdf.Font, layout: Layout, items: list[Label], domain: str) -> bytes:
    """A sheet's content stream: its labels from the top left, row by row."""
    parts = []
    for index, item in enumerate(items):
        column, row = index % layout.columns, index // layout.columns
        x = (layout.margin_left + column * (layout.label_width + layout.gap_x)) * MM
        top = (layout.page_height - layout.margin_top - row * (layout.label_height + layout.gap_y)) * MM
        parts.append(_label(font, layout, item, domain, x, top))
    return b"".join(parts)


async def pdf_chunks(
    items: AsyncIterable[Label], *, domain: str, layout: Layout | None = None, compress: bool = True
) -> AsyncIterator[bytes]:
    """The label sheets of ``items`` as a PDF, a chunk a page (the font first, the page tree and index last).

    ``compress=False`` leaves the page contents readable (for tests and for looking at a sheet by hand).
    """
    layout = layout or Layout()
    # The font's parse and subset, and each page's drawing, run in a worker thread: a page takes the CPU
    # for the better part of a second (35 codes drawn in pure Python), which on the event loop would stall
    # every other request of the service; in a thread the loop still gets the interpreter every few ms.
    subset = await asyncio.to_thread(pdf.font, str(FONT), layout.caption + domain)
    writer = pdf.Writer()
    catalog, pages, font = writer.reserve(), writer.reserve(), writer.reserve()
    await asyncio.to_thread(writer.font, font, subset)
    yield writer.take()
    kids = array("Q")
    size = b"[0 0 %s %s]" % (_n(layout.page_width * MM), _n(layout.page_height * MM))

    async def page(batch: list[Label]) -> None:
        content, number = writer.reserve(), writer.reserve()
        drawn = await asyncio.to_thread(_page, subset, layout, batch, domain)
        writer.stream(content, drawn, compress=compress)
        writer.object(
            number,
            b"<< /Type /Page /Parent %d 0 R /MediaBox %s /Resources << /Font << /F1 %d 0 R >> >>"
            b" /Contents %d 0 R >>" % (pages, size, font, content),
        )
        kids.append(number)

    batch: list[Label] = []
    async for item in items:
        batch.append(item)
        if len(batch) == layout.per_page:
            await page(batch)
            batch = []
            yield writer.take()
    if batch:
        await page(batch)
    references = b" ".join(b"%d 0 R" % kid for kid in kids)
    writer.object(pages, b"<< /Type /Pages /Count %d /Kids [%s] >>" % (len(kids), references))
    writer.object(catalog, b"<< /Type /Catalog /Pages %d 0 R >>" % pages)
    writer.finish(catalog)
    yield writer.take()
