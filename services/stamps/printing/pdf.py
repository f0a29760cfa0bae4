"""A minimal PDF writer that streams: objects go out as they are made, only their offsets stay behind.

reportlab's canvas keeps every page of a document in memory until ``save()``, which a 1,000,000-stamp
sheet run cannot afford; so pages are written here, and reportlab does what is hard: the TrueType
subset (glyphs, widths, ToUnicode) of the embedded font. A label sheet's text comes from a known,
small character set (ASCII for serials and the domain, the caption's letters), so the one font
subset is fixed before the first page and written at the start.
"""

from __future__ import annotations

import zlib
from array import array
from dataclasses import dataclass

from reportlab.pdfbase.ttfonts import TTFontFace, makeToUnicodeCMap

ASCII = range(128)  # kept as themselves, so Latin text stays readable (and searchable) in the content


@dataclass(frozen=True)
class Font:
    """An embedded TrueType subset: ``codes`` maps a character to its one-byte code; widths in 1/1000 em."""

    face: TTFontFace
    codes: dict[str, int]
    widths: list[float]
    name: str

    def width(self, text: str, size: float) -> float:
        """The width in points of ``text`` at ``size`` points."""
        return sum(self.widths[self.codes[char]] for char in text) * size / 1000

    def literal(self, text: str) -> bytes:
        """``text`` as a PDF string literal in this subset's codes."""
        out = bytearray(b"(")
        for char in text:
            code = self.codes[char]
            if chr(code) in "()\\" or not 32 <= code < 127:
                out += b"\\%03o" % code
            else:
                out.append(code)
        return bytes(out + b")")


def font(path: str, extra: str) -> Font:
    """The subset of the TrueType font at ``path`` for ASCII and the characters of ``extra``."""
    face = TTFontFace(path)
    others = sorted({char for char in extra if ord(char) >= 128})
    missing = [char for char in others if ord(char) not in face.charToGlyph]
    if missing:
        raise ValueError(f"the font has no glyph for {''.join(missing)!r}")
    if len(ASCII) + len(others) > 256:
        raise ValueError("more than 128 distinct non-ASCII characters do not fit one font subset")
    subset = [*ASCII, *(ord(char) for char in others)]
    codes = {chr(point): code for code, point in enumerate(subset)}
    widths = [face.getCharWidth(point) for point in subset]
    return Font(face, codes, widths, "AAAAAA+" + face.name.decode())


def _number(value: float) -> bytes:
    return (b"%.3f" % value).rstrip(b"0").rstrip(b".")


class Writer:
    """Numbered objects written in any order; ``take()`` hands out what was written since the last take."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._position = 0
        self._offsets = array("Q")  # object number - 1 → byte offset: 8 bytes an object
        self._write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")

    def _write(self, data: bytes) -> None:
        self._chunks.append(data)
        self._position += len(data)

    def reserve(self) -> int:
        """A new object number, to refer to before the object is written."""
        self._offsets.append(0)
        return len(self._offsets)

    def object(self, number: int, body: bytes) -> None:
        """Object ``number`` with ``body`` (a dictionary, an array…)."""
        self._offsets[number - 1] = self._position
        self._write(b"%d 0 obj\n%s\nendobj\n" % (number, body))

    def stream(self, number: int, data: bytes, entries: bytes = b"", *, compress: bool = True) -> None:
        """Object ``number``: a stream of ``data`` (Flate-compressed if ``compress``) with extra dictionary ``entries``."""
        if compress:
            data = zlib.compress(data, 6)
            entries += b" /Filter /FlateDecode"
        self._offsets[number - 1] = self._position
        self._write(b"%d 0 obj\n<< /Length %d%s >>\nstream\n" % (number, len(data), entries))
        self._write(data + b"\nendstream\nendobj\n")

    def font(self, number: int, subset: Font) -> None:
        """The font dictionary ``number`` of ``subset`` and the objects it refers to."""
        descriptor, program, to_unicode = self.reserve(), self.reserve(), self.reserve()
        face = subset.face
        points = [ord(char) for char in sorted(subset.codes, key=subset.codes.__getitem__)]
        font_file = face.makeSubset(points)
        self.stream(program, font_file, b" /Length1 %d" % len(font_file))
        self.stream(to_unicode, makeToUnicodeCMap(subset.name, points).encode())
        bbox = b" ".join(_number(value) for value in face.bbox)
        self.object(
            descriptor,
            b"<< /Type /FontDescriptor /FontName /%s /Flags %d /FontBBox [%s] /ItalicAngle %s /Ascent %s"
            b" /Descent %s /CapHeight %s /StemV %d /MissingWidth %s /FontFile2 %d 0 R >>"
            % (
                subset.name.encode(), (face.flags & ~32) | 4, bbox, _number(face.italicAngle),
                _number(face.ascent), _number(face.descent), _number(face.capHeight), face.stemV,
                _number(face.defaultWidth), program,
            ),
        )  # fmt: skip
        widths = b" ".join(_number(width) for width in subset.widths)
        self.object(
            number,
            b"<< /Type /Font /Subtype /TrueType /BaseFont /%s /FirstChar 0 /LastChar %d /Widths [%s]"
            b" /FontDescriptor %d 0 R /ToUnicode %d 0 R >>"
            % (subset.name.encode(), len(subset.widths) - 1, widths, descriptor, to_unicode),
        )

    def finish(self, catalog: int) -> None:
        """The cross-reference table and the trailer, ``catalog`` the document's root."""
        start = self._position
        lines = [b"xref\n0 %d\n0000000000 65535 f \n" % (len(self._offsets) + 1)]
        lines.extend(b"%010d 00000 n \n" % offset for offset in self._offsets)
        self._write(b"".join(lines))
        self._write(b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
            len(self._offsets) + 1, catalog, start))  # fmt: skip

    def take(self) -> bytes:
        """What was written since the last take."""
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data
