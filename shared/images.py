"""What an uploaded image really is: its format checked by structure, not by its first bytes alone.

A file that merely starts with an image signature (an HTML page behind a PNG header, say) is refused:
PNG chunks must chain with valid CRCs from IHDR to IEND, JPEG segments must lead from SOI to a scan
and end with EOI, and a WebP's RIFF size must match the file. Used by the registry's product images and
the stamps service's consumer reports, with the same size cap.
"""

from __future__ import annotations

import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8"
JPEG_EOI = b"\xff\xd9"
JPEG_SOS = 0xDA
# Markers that stand alone, without a length: TEM and RST0–7.
JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}
WEBP_CHUNKS = (b"VP8 ", b"VP8L", b"VP8X")
# The largest image accepted (a product's image, a consumer report's photo).
MAX_IMAGE_BYTES = 5 * 1024 * 1024


def _is_png(data: bytes) -> bool:
    position = len(PNG_SIGNATURE)
    first = True
    while position + 12 <= len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        end = position + 12 + length
        if end > len(data) or (first and (kind != b"IHDR" or length != 13)):
            return False
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(data[position + 4 : end - 4]) != int(crc):
            return False
        if kind == b"IEND":
            return bool(end == len(data))
        first = False
        position = end
    return False


def _is_jpeg(data: bytes) -> bool:
    if not data.rstrip(b"\x00").endswith(JPEG_EOI):
        return False
    position = len(JPEG_SOI)
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return False
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in JPEG_STANDALONE:
            position += 2
            continue
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if length < 2 or position + 2 + length > len(data):
            return False
        if marker == JPEG_SOS:
            return True
        position += 2 + length
    return False


def _is_webp(data: bytes) -> bool:
    if len(data) < 20 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return False
    (size,) = struct.unpack("<I", data[4:8])
    return size == len(data) - 8 and data[12:16] in WEBP_CHUNKS


def image_type(data: bytes) -> str | None:
    """The media type of a well-formed JPEG, PNG or WebP file; None for anything else."""
    if data.startswith(PNG_SIGNATURE):
        return "image/png" if _is_png(data) else None
    if data.startswith(JPEG_SOI + b"\xff"):
        return "image/jpeg" if _is_jpeg(data) else None
    if data.startswith(b"RIFF"):
        return "image/webp" if _is_webp(data) else None
    return None
