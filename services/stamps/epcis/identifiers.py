"""EPCIS identifiers in one canonical form for matching: the GS1 Digital Link path, without scheme or host.

An EPC arrives as a GS1 Digital Link URI on any host (``https://id.gs1.org/01/…/21/…``, our resolver's
``HTTPS://TEM.OCOP…/01/…``) or as an EPC URN (``urn:epc:id:sgtin:CompanyPrefix.IndItemRef.Serial``).
Both are turned into the element string's path form, e.g. ``/01/{gtin14}/21/{serial}``,
``/01/{gtin14}/10/{lot}``, ``/01/{gtin14}`` (a class of any serial), ``/00/{sscc}``, ``/414/{gln}``.

Why the DL path and not the URN: an EPC URN separates the company prefix, so it converts to the DL
form by arithmetic alone (indicator digit first, check digit recomputed), but a Digital Link does not
say where the company prefix ends (GS1 Vietnam's are 893 + 4 to 6 digits, other countries' differ),
so the way back to a URN needs a prefix table we do not have. Matching on the DL path needs none.

Values (serial, lot, extension) are percent-decoded and re-encoded one way (every reserved character
encoded), so ``%2F`` and ``/`` in a URN serial, or a needlessly encoded DL path, match. A URI that is
neither (a platform URI, an ``urn:uuid``, a GS1 key we do not map) is its own canonical form, unchanged.
A URI that claims to be one of ours but breaks its syntax (a wrong GTIN check digit, a URN with the
wrong number of digits) is refused with ``InvalidIdentifier``: matching on a mistyped key finds nothing.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import quote, unquote, urlsplit

from shared.gs1 import InvalidIdentifier, check_digit

# Digital Link primary keys: AI → (digits incl. check digit, or None for alphanumeric values).
_PRIMARY_DIGITS: dict[str, int | None] = {
    "01": 14, "00": 18, "414": 13, "417": 13, "8004": None, "8018": 18, "253": None, "8003": None,
    "8006": 18, "8010": None, "8017": 18, "255": None, "401": None, "402": 17,
}  # fmt: skip
# Key qualifiers allowed after each primary key, in GS1's order.
_QUALIFIERS: dict[str, tuple[str, ...]] = {
    "01": ("22", "10", "21"),
    "414": ("254", "7040"),
    "8006": ("22", "10", "21"),
}
_DIGITS = re.compile(r"[0-9]+")
# The common case, a serialised item's Digital Link at the host's root with a serial of unreserved
# characters only (what the lifecycle generates and what scanners send): no URL parsing, no re-encoding.
_ITEM_LINK = re.compile(r"(?i:https?)://[^/?#]+/01/([0-9]{14})/21/([0-9A-Za-z._~-]{1,20})")
_URN = re.compile(r"urn:epc:(id|class|idpat):([a-z]+):(.+)", re.IGNORECASE)
# The common URN, an SGTIN in lower case whose serial holds unreserved characters only (what the bench,
# GS1's examples and most capturing systems send): canonical without the general parser's splitting.
_SGTIN_URN = re.compile(r"urn:epc:id:sgtin:([0-9]{6,12})\.([0-9]{1,7})\.([0-9A-Za-z._~-]{1,20})")


def _value(raw: str) -> str:
    """A qualifier or key value decoded, then encoded the one canonical way."""
    return quote(unquote(raw), safe="")


@lru_cache(maxsize=4096)
def _with_check(body: str) -> str:
    return body + str(check_digit(body))


def _digits(field: str, value: str, length: int) -> str:
    if not _DIGITS.fullmatch(value) or len(value) != length:
        raise InvalidIdentifier(field, f"expected {length} digits, got {value!r}")
    return value


def _checked_key(ai: str, value: str) -> str:
    """A Digital Link key value with its check digit verified (GTIN padded to 14)."""
    length = _PRIMARY_DIGITS.get(ai)
    if ai == "01":
        if not _DIGITS.fullmatch(value) or len(value) not in (8, 12, 13, 14):
            raise InvalidIdentifier("gtin", f"a GTIN is 8, 12, 13 or 14 digits, not {value!r}")
        value = value.zfill(14)
    elif length is not None:
        _digits(f"ai {ai}", value, length)
    else:
        return _value(value)
    if check_digit(value[:-1]) != int(value[-1]):
        raise InvalidIdentifier(f"ai {ai}", f"the check digit of {value} is wrong")
    return value


def _digital_link(path: str) -> str | None:
    """The canonical path of a Digital Link URI's path, or None if it names no GS1 primary key."""
    segments = [segment for segment in path.split("/") if segment]
    start = next(
        (i for i in range(len(segments) - 1) if segments[i] in _PRIMARY_DIGITS and len(segments) - i >= 2),
        None,
    )
    if start is None or (len(segments) - start) % 2:
        return None
    key, value = segments[start], segments[start + 1]
    parts = [f"/{key}/{_checked_key(key, unquote(value))}"]
    allowed = _QUALIFIERS.get(key, ())
    last = -1
    for i in range(start + 2, len(segments), 2):
        qualifier = segments[i]
        if qualifier not in allowed or allowed.index(qualifier) <= last:
            raise InvalidIdentifier(
                "uri", f"/{qualifier}/ may not follow /{key}/ there (GS1 qualifier order)"
            )
        last = allowed.index(qualifier)
        parts.append(f"/{qualifier}/{_value(segments[i + 1])}")
    return "".join(parts)


def _split(field: str, body: str, count: int) -> list[str]:
    parts = body.split(".", count - 1)  # the last part (serial, lot, asset) may itself hold dots
    if len(parts) != count or not all(parts):
        raise InvalidIdentifier(field, f"expected {count} dot-separated parts in {body!r}")
    return parts


def _gtin(field: str, company: str, item: str) -> str:
    """GTIN-14 from an EPC URN's company prefix and indicator + item reference (13 digits together)."""
    if not _DIGITS.fullmatch(company + item) or len(company) + len(item) != 13 or not 6 <= len(company) <= 12:
        raise InvalidIdentifier(
            field, "company prefix (6-12 digits) and indicator+item reference make 13 digits"
        )
    return _with_check(item[0] + company + item[1:])


def _urn(kind: str, scheme: str, body: str) -> str | None:
    """The canonical path of an EPC URN's body, or None for a scheme not mapped here."""
    field = f"urn:epc:{kind}:{scheme}"
    if (kind, scheme) == ("id", "sgtin"):
        company, item, serial = _split(field, body, 3)
        return f"/01/{_gtin(field, company, item)}/21/{_value(serial)}"
    if (kind, scheme) == ("class", "lgtin"):
        company, item, lot = _split(field, body, 3)
        return f"/01/{_gtin(field, company, item)}/10/{_value(lot)}"
    if (kind, scheme) == ("idpat", "sgtin"):
        company, item, serial = _split(field, body, 3)
        if serial != "*" or item == "*":
            return None  # a pattern over item references is no single class
        return f"/01/{_gtin(field, company, item)}"
    if (kind, scheme) == ("id", "sscc"):
        company, reference = _split(field, body, 2)
        _digits(field, company + reference, 17)
        return f"/00/{_with_check(reference[0] + company + reference[1:])}"
    if (kind, scheme) in (("id", "sgln"), ("id", "pgln")):
        count = 3 if scheme == "sgln" else 2
        company, location, *extension = _split(field, body, count)
        gln = _with_check(_digits(field, company + location, 12))
        ai = "414" if scheme == "sgln" else "417"
        suffix = f"/254/{_value(extension[0])}" if extension and extension[0] != "0" else ""
        return f"/{ai}/{gln}{suffix}"
    if (kind, scheme) == ("id", "giai"):
        company, asset = _split(field, body, 2)
        return f"/8004/{_value(unquote(company) + unquote(asset))}"
    if (kind, scheme) == ("id", "gsrn"):
        company, service = _split(field, body, 2)
        return f"/8018/{_with_check(_digits(field, company + service, 17))}"
    if (kind, scheme) == ("id", "grai"):
        company, asset, serial = _split(field, body, 3)
        return f"/8003/0{_with_check(_digits(field, company + asset, 12))}{_value(serial)}"
    if (kind, scheme) == ("id", "gdti"):
        company, document, serial = _split(field, body, 3)
        return f"/253/{_with_check(_digits(field, company + document, 12))}{_value(serial)}"
    return None


@lru_cache(maxsize=4096)
def _gtin14_valid(gtin: str) -> bool:
    return check_digit(gtin[:-1]) == int(gtin[-1])


def canonical(uri: str) -> str:
    """The one form an EPC, EPC class or location is matched on (module docstring); InvalidIdentifier if malformed."""
    text = uri.strip()
    if (item := _ITEM_LINK.fullmatch(text)) is not None and _gtin14_valid(item.group(1)):
        return f"/01/{item.group(1)}/21/{item.group(2)}"
    if (sgtin := _SGTIN_URN.fullmatch(text)) is not None:
        company, reference, serial = sgtin.groups()
        if len(company) + len(reference) == 13:
            return f"/01/{_with_check(reference[0] + company + reference[1:])}/21/{serial}"
    if (match := _URN.fullmatch(text)) is not None:
        mapped = _urn(match.group(1).lower(), match.group(2).lower(), match.group(3))
        return mapped if mapped is not None else text
    parts = urlsplit(text)
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        mapped = _digital_link(parts.path)
        if mapped is not None:
            return mapped
        # Scheme and host are case-insensitive (RFC 3986); the rest is kept as it is.
        return f"{parts.scheme.lower()}://{parts.netloc.lower()}{text[len(parts.scheme) + 3 + len(parts.netloc) :]}"
    return text


@lru_cache(maxsize=4096)
def canonical_place(uri: str) -> str:
    """``canonical`` of a location (remembered: a document's events name the same few places)."""
    return canonical(uri)


def within(canonical_form: str, places: set[str]) -> bool:
    """Whether a canonical location is one of ``places`` (canonical) or a sub-location (AI 254) of one."""
    if canonical_form in places:
        return True
    return canonical_form.startswith("/414/") and canonical_form.split("/254/", 1)[0] in places


def gtin_of(canonical_form: str) -> str | None:
    """The GTIN-14 a canonical identifier names (an instance, a lot, or the class itself), or None."""
    if canonical_form.startswith("/01/"):
        return canonical_form[4:18]
    return None


def digital_link(canonical_form: str, host: str = "id.gs1.org") -> str:
    """A canonical GS1 path as a Digital Link URI on ``host`` (anything else unchanged)."""
    if canonical_form.startswith("/"):
        return f"https://{host}{canonical_form}"
    return canonical_form
