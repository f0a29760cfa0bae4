"""Every spelling a query value may be stored under: identifiers (DL URI, DL path, EPC URN) and CBV words.

Pure functions. A query matches the stored column against all of a value's spellings, so a client may
ask in any accepted form (GS1 Digital Link on any host, EPC URN, bare CBV word or its URIs) and find
events captured in another.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from shared import gs1

DL_HOST = "https://id.gs1.org"
# Digital Link primary keys we match on, with their qualifiers.
_DL_PATH = re.compile(r"^/(01|00|414|417)/([^/]+)(?:/(21|10|254)/([^/]+))?$")
_URN = re.compile(r"^urn:epc:(id|class|idpat):(sgtin|lgtin|sscc|sgln|pgln):(.+)$")
CBV_KINDS = {"bizStep": "BizStep", "disposition": "Disp"}
_URN_KINDS = {"bizStep": "bizstep", "disposition": "disp"}


class BadIdentifier(ValueError):
    """A value that is not a URI of any kind we accept."""


def _digits(body: str) -> str:
    return body + str(gs1.check_digit(body))


def _from_urn(kind: str, scheme: str, rest: str) -> str | None:
    """The Digital Link path of an EPC URN (the company prefix length is in the URN), or None."""
    parts = rest.split(".")
    try:
        if scheme in ("sgtin", "lgtin") and len(parts) >= 2:
            prefix, reference = parts[0], parts[1]
            if not (prefix + reference).isdigit() or len(prefix + reference) != 13:
                return None
            gtin = _digits(reference[0] + prefix + reference[1:])
            qualifier = ".".join(parts[2:])
            if kind == "idpat" or qualifier in ("", "*"):
                return f"/01/{gtin}"
            return f"/01/{gtin}/{'21' if scheme == 'sgtin' else '10'}/{unquote(qualifier)}"
        if scheme == "sscc" and len(parts) == 2 and (parts[0] + parts[1]).isdigit():
            prefix, reference = parts
            return (
                f"/00/{_digits(reference[0] + prefix + reference[1:])}"
                if len(prefix + reference) == 17
                else None
            )
        if scheme in ("sgln", "pgln") and len(parts) >= 2 and (parts[0] + parts[1]).isdigit():
            gln = _digits(parts[0] + parts[1])
            if len(gln) != 13:
                return None
            extension = parts[2] if len(parts) > 2 else "0"
            code = "414" if scheme == "sgln" else "417"
            return (
                f"/{code}/{gln}" if extension in ("0", "", "*") else f"/{code}/{gln}/254/{unquote(extension)}"
            )
    except gs1.InvalidIdentifier:
        return None
    return None


def _dl_path(path: str) -> str | None:
    """A Digital Link path in its canonical spelling (GTIN-14, qualifiers decoded), or None."""
    found = _DL_PATH.match(path)
    if found is None:
        return None
    key, value, qualifier, qualified = found.groups()
    value = unquote(value)
    if key == "01":
        try:
            value = gs1.gtin14(value)
        except gs1.InvalidIdentifier:
            return None
    canonical = f"/{key}/{value}"
    return canonical if qualifier is None else f"{canonical}/{qualifier}/{unquote(qualified)}"


def canonical_path(value: str) -> str | None:
    """The Digital Link path (``/01/{gtin14}/21/{serial}``…) an identifier stands for, or None if it has none."""
    urn = _URN.match(value)
    if urn is not None:
        return _from_urn(*urn.groups())
    if value.startswith("/"):
        return _dl_path(value)
    parts = urlsplit(value)
    if parts.scheme in ("http", "https") and parts.netloc:
        return _dl_path(parts.path)
    return None


def identifier_spellings(value: str) -> tuple[str, ...]:
    """The spellings an identifier may be stored under: as given, as a Digital Link path, and on id.gs1.org."""
    value = value.strip()
    if not value or (":" not in value and not value.startswith("/")):
        raise BadIdentifier(value)
    path = canonical_path(value)
    spellings = [value]
    if path is not None:
        spellings += [path, DL_HOST + path]
    return tuple(dict.fromkeys(spellings))


def vocabulary_spellings(kind: str, value: str) -> tuple[str, ...]:
    """A CBV word's spellings: the bare word, its Web URI and its URN (a URI that is none of them, as given)."""
    value = value.strip()
    word = value
    web = f"https://ref.gs1.org/cbv/{CBV_KINDS[kind]}-"
    urn = f"urn:epcglobal:cbv:{_URN_KINDS[kind]}:"
    if value.startswith(web):
        word = value.removeprefix(web)
    elif value.startswith(urn):
        word = value.removeprefix(urn)
    elif ":" in value:
        return (value,)
    return (word, web + word, urn + word)


def bare_word(value: str | None) -> str | None:
    """A CBV bizStep or disposition as its bare word (``shipping``), whatever spelling it is stored in."""
    if value is None:
        return None
    for prefix in ("https://ref.gs1.org/cbv/BizStep-", "https://ref.gs1.org/cbv/Disp-",
                   "urn:epcglobal:cbv:bizstep:", "urn:epcglobal:cbv:disp:"):  # fmt: skip
        if value.startswith(prefix):
            return value.removeprefix(prefix)
    return value
