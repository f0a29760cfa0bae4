"""QR codes of Digital Link URIs (segno): alphanumeric mode, error correction M, a 4-module quiet zone.

TRACEABILITY §4.3: an upper-case URI fits QR alphanumeric mode, so a 67-character link is version 4
(33×33 modules) at level M. segno would raise the level to Q when it fits the same version
(``boost_error``); we keep M, as the spec asks, so every stamp of a batch is coded alike.
"""

from __future__ import annotations

import io

import segno

ERROR_LEVEL = "M"
MODE = "alphanumeric"
QUIET_ZONE = 4  # modules on each side (ISO/IEC 18004)


def qr_code(uri: str) -> segno.QRCode:
    """The QR code of ``uri``; ValueError if it cannot be alphanumeric (a lower-case URI is a bug upstream)."""
    return segno.make(uri, error=ERROR_LEVEL.lower(), mode=MODE, micro=False, boost_error=False)


def modules(code: segno.QRCode) -> list[bytes]:
    """The symbol's rows without the quiet zone, one byte per module (1 dark, 0 light)."""
    return [bytes(row) for row in code.matrix]


def side(code: segno.QRCode) -> int:
    """Modules per side including the quiet zone."""
    width, _ = code.symbol_size(border=QUIET_ZONE)
    return int(width)


def svg(uri: str, *, scale: float = 1, unit: str | None = None) -> bytes:
    """An SVG of ``uri``'s code: ``scale`` user units (or ``unit``, e.g. "mm") per module, quiet zone included."""
    out = io.BytesIO()
    qr_code(uri).save(out, kind="svg", border=QUIET_ZONE, scale=scale, unit=unit, xmldecl=True)
    return out.getvalue()


def png(uri: str, *, scale: int = 8) -> bytes:
    """A PNG of ``uri``'s code, ``scale`` pixels per module, quiet zone included."""
    out = io.BytesIO()
    qr_code(uri).save(out, kind="png", border=QUIET_ZONE, scale=scale)
    return out.getvalue()
