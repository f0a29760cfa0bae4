"""GS1 syntax: GTIN check digits, the alphanumeric check-character pair, stamp serials, GS1 Digital Link URIs.

Standards, not business rules (docs: ../shared/docs/TRACEABILITY.md §1; the GS1 Barcode Syntax
Dictionary in tests/fixtures/gs1/). A stamp serial is 16 Crockford base32 characters (80 random bits
from the operating system's CSPRNG) followed by GS1's check-character pair over them: 18 characters,
within AI 21's 20, upper case, so a printed Digital Link fits QR alphanumeric mode.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

# CSET 82: the characters AIs 10, 21 and 22 may hold, in the order that gives each its weight.
CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
# CSET 32: the characters of a check-character pair.
CSET32 = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
# Crockford's base32: no I, L, O or U, so a serial read aloud or retyped is not misread.
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97)

SERIAL_BODY = 16
SERIAL_LENGTH = SERIAL_BODY + 2
MAX_QUALIFIER = 20  # AIs 10, 21 and 22: X..20
_CSET82 = frozenset(CSET82)
_CSET82_VALUE = {char: value for value, char in enumerate(CSET82)}
_SERIAL = re.compile(f"[{CROCKFORD}]{{{SERIAL_BODY}}}[{CSET32}]{{2}}")
# What people type for a serial they read: lower case, hyphens or spaces between groups, O for 0, I or L for 1.
_TYPED = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})


class InvalidIdentifier(ValueError):
    """An identifier breaks GS1 syntax; ``field`` names which part (gtin, lot, serial, uri)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# GTIN


def check_digit(body: str) -> int:
    """The GS1 mod-10 check digit of the digits before it (weights 3, 1, 3, … from the right)."""
    # Every other digit from the right by slicing, summed in C: a verification checks one per request.
    total = 3 * sum(map(int, body[-1::-2])) + sum(map(int, body[-2::-2]))
    return (10 - total % 10) % 10


def gtin14(gtin: str) -> str:
    """A GTIN-8/12/13/14 as the 14 digits a Digital Link carries; InvalidIdentifier if it is not one."""
    if not gtin.isascii() or not gtin.isdigit() or len(gtin) not in (8, 12, 13, 14):
        raise InvalidIdentifier("gtin", "a GTIN is 8, 12, 13 or 14 digits")
    if check_digit(gtin[:-1]) != int(gtin[-1]):
        raise InvalidIdentifier(
            "gtin", f"check digit {gtin[-1]} is wrong (expected {check_digit(gtin[:-1])})"
        )
    return gtin.zfill(14)


# The check-character pair and serials


def check_pair(data: str) -> str:
    """GS1's two check characters (CSET 32) over CSET 82 ``data`` of at most 25 characters."""
    if not data or len(data) > len(PRIMES) or not set(data) <= _CSET82:
        raise InvalidIdentifier("serial", "a check pair covers 1 to 25 characters of CSET 82")
    weights = PRIMES[: len(data)][::-1]
    total = sum(_CSET82_VALUE[char] * weight for char, weight in zip(data, weights, strict=True)) % 1021
    return CSET32[total >> 5] + CSET32[total & 31]


def new_serial() -> str:
    """A new stamp serial: 80 bits from the CSPRNG in Crockford base32, then its check pair."""
    bits = secrets.randbits(5 * SERIAL_BODY)
    body = "".join(CROCKFORD[(bits >> (5 * i)) & 31] for i in range(SERIAL_BODY))
    return body + check_pair(body)


# Bulk generation maps base32 (RFC 4648) onto Crockford's alphabet in one C-level pass; generation and
# verification take a serial's check sum as eight lookups of two-character weights (check_pair's arithmetic).
_RFC4648_TO_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", CROCKFORD.encode())
_PAIR_WEIGHTS = [
    {
        a + b: _CSET82_VALUE[a] * PRIMES[15 - 2 * p] + _CSET82_VALUE[b] * PRIMES[14 - 2 * p]
        for a in CROCKFORD
        for b in CROCKFORD
    }
    for p in range(SERIAL_BODY // 2)
]
_PAIRS = [CSET32[total >> 5] + CSET32[total & 31] for total in range(1021)]


def _body_pair(body: str) -> str:
    """``check_pair`` of a serial's 16 Crockford characters, from the two-character weights."""
    w0, w1, w2, w3, w4, w5, w6, w7 = _PAIR_WEIGHTS
    total = (
        w0[body[0:2]] + w1[body[2:4]] + w2[body[4:6]] + w3[body[6:8]]
        + w4[body[8:10]] + w5[body[10:12]] + w6[body[12:14]] + w7[body[14:16]]
    )  # fmt: skip
    return _PAIRS[total % 1021]


def new_serials(count: int) -> list[str]:
    """``count`` new stamp serials at once (10 random bytes each from the CSPRNG): what ``new_serial`` gives, faster."""
    text = base64.b32encode(secrets.token_bytes(10 * count)).translate(_RFC4648_TO_CROCKFORD).decode()
    bodies = (text[start : start + SERIAL_BODY] for start in range(0, SERIAL_BODY * count, SERIAL_BODY))
    return [body + _body_pair(body) for body in bodies]


def serial_problem(serial: str) -> str | None:
    """Why ``serial`` is not one of our stamp serials, or None if it is."""
    if len(serial) != SERIAL_LENGTH:
        return f"a stamp serial is {SERIAL_LENGTH} characters, not {len(serial)}"
    if not _SERIAL.fullmatch(serial):
        return "a stamp serial is 16 Crockford base32 characters and 2 check characters, upper case"
    if _body_pair(serial[:SERIAL_BODY]) != serial[SERIAL_BODY:]:
        return "the check characters do not match: the serial was mistyped or forged"
    return None


def typed_serial(text: str) -> str:
    """A serial as a person typed it (any case, grouped with hyphens or spaces, O for 0, I/L for 1), made canonical.

    Only the 16 data characters are mapped; the check pair is CSET 32, which has no O, I or L.
    """
    compact = text.upper().translate({ord("-"): None, ord(" "): None})
    return compact[:SERIAL_BODY].translate(_TYPED) + compact[SERIAL_BODY:]


def grouped(serial: str) -> str:
    """The serial as printed for people: ``7K3Q-9M2X-H4TB-8VNC-F9``."""
    return "-".join(serial[i : i + 4] for i in range(0, len(serial), 4))


# GS1 Digital Link


def _qualifier(field: str, value: str) -> str:
    if not 1 <= len(value) <= MAX_QUALIFIER:
        raise InvalidIdentifier(field, f"1 to {MAX_QUALIFIER} characters")
    if not set(value) <= _CSET82:
        raise InvalidIdentifier(field, "only characters of GS1's CSET 82 (no spaces, #, $, @, [, ], {, }, ~)")
    return value


@dataclass(frozen=True)
class DigitalLink:
    """A trade item's GS1 Digital Link: GTIN-14, optional lot (AI 10), serial (AI 21)."""

    gtin: str
    serial: str
    lot: str | None = None

    def path(self) -> str:
        """``/01/{gtin}[/10/{lot}]/21/{serial}``, qualifiers in GS1's order, percent-encoded where needed."""
        lot = f"/10/{quote(self.lot, safe='')}" if self.lot else ""
        return f"/01/{self.gtin}{lot}/21/{quote(self.serial, safe='')}"

    def uri(self, host: str) -> str:
        """The URI as printed: scheme and host upper case (they are case-insensitive) so that, with upper-case
        qualifiers, a QR code holds it in alphanumeric mode; the path keeps its case (CSET 82 is case-sensitive)."""
        return f"HTTPS://{host.upper()}{self.path()}"


def digital_link(gtin: str, serial: str, lot: str | None = None) -> DigitalLink:
    """A checked Digital Link for a stamp: a valid GTIN (padded to 14), a valid serial, a CSET 82 lot."""
    problem = serial_problem(serial)
    if problem is not None:
        raise InvalidIdentifier("serial", problem)
    return DigitalLink(gtin14(gtin), serial, _qualifier("lot", lot) if lot is not None else None)


def parse_path(path: str) -> DigitalLink:
    """The Digital Link in a request path ``/01/{gtin}[/10/{lot}]/21/{serial}`` (a trailing slash tolerated).

    Strict, as a resolver must be: the GTIN's check digit, the qualifiers' order and character set,
    and the serial's check pair; anything else is InvalidIdentifier naming the part.
    """
    segments = path.strip("/").split("/")
    if len(segments) not in (4, 6) or segments[0] != "01":
        raise InvalidIdentifier("uri", "expected /01/{gtin}/21/{serial} or /01/{gtin}/10/{lot}/21/{serial}")
    keys = segments[2::2]
    if keys not in (["21"], ["10", "21"]):
        raise InvalidIdentifier("uri", "qualifiers must be /10/{lot} then /21/{serial}, in that order")
    values = [unquote(value) for value in segments[1::2]]
    lot = _qualifier("lot", values[1]) if len(values) == 3 else None
    serial = _qualifier("serial", values[-1])
    return digital_link(values[0], serial, lot)


def parse_uri(uri: str) -> DigitalLink:
    """The Digital Link of a whole URI (any case of scheme and host; a path prefix is not ours)."""
    parts = urlsplit(uri)
    if parts.scheme.lower() not in ("https", "http") or not parts.netloc:
        raise InvalidIdentifier("uri", "a Digital Link is an http(s) URI")
    return parse_path(parts.path)
