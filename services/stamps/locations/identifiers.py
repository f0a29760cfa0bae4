"""A location's identifiers: a GLN's check, its SGLN (EPC URN), its Digital Link, and the platform's own URI.

Pure functions (TRACEABILITY §1.1, §2.6; GS1 EPC Tag Data Standard 2.x, SGLN). An SGLN splits the GLN's
twelve data digits into the GS1 company prefix and the location reference, so building one needs the
prefix's length, which the GLN itself does not say; reading one back needs nothing (prefix and
reference concatenated, plus the check digit). The extension ``0`` means "no extension": we register
whole GLNs, not sub-locations (AI 254).
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

from shared.gs1 import check_digit

GLN_LENGTH = 13
# TDS's SGLN partition table: company prefixes of 6 to 12 digits.
PREFIX_LENGTHS = range(6, 13)
# Vietnam's GS1 prefix 893 plus a 4- to 7-digit company number (TRACEABILITY §1.1; GS1 Vietnam issues
# 4, 5 or 6 today): 7 to 10 digits in all.
VIETNAM_PREFIX = "893"
VIETNAM_PREFIX_LENGTHS = range(7, 11)
NO_EXTENSION = "0"
DIGITAL_LINK_HOST = "id.gs1.org"

_SGLN = re.compile(r"urn:epc:id:sgln:(\d{6,12})\.(\d{0,6})\.(.+)")
# A Digital Link may sit under a path prefix (``https://example.vn/gs1/414/…``).
_GLN_PATH = re.compile(r"(?:/[^/]+)*/414/(\d{13})/?")


def gln_problem(gln: str) -> str | None:
    """Why ``gln`` is not a GLN (13 digits, GS1's mod-10 check digit last), or None if it is one."""
    if len(gln) != GLN_LENGTH or not gln.isascii() or not gln.isdigit():
        return "a GLN is 13 digits"
    expected = check_digit(gln[:-1])
    if int(gln[-1]) != expected:
        return f"check digit {gln[-1]} is wrong (expected {expected})"
    return None


def prefix_length_problem(gln: str, prefix_length: int) -> str | None:
    """Why ``prefix_length`` cannot be the length of ``gln``'s company prefix, or None if it can."""
    if prefix_length not in PREFIX_LENGTHS:
        return f"a GS1 company prefix has {PREFIX_LENGTHS.start} to {PREFIX_LENGTHS.stop - 1} digits"
    if gln.startswith(VIETNAM_PREFIX) and prefix_length not in VIETNAM_PREFIX_LENGTHS:
        return (
            f"GS1 Vietnam's company prefixes (893…) have {VIETNAM_PREFIX_LENGTHS.start} to "
            f"{VIETNAM_PREFIX_LENGTHS.stop - 1} digits"
        )
    return None


def sgln_uri(gln: str, prefix_length: int) -> str:
    """The SGLN EPC URN of a whole GLN: ``urn:epc:id:sgln:{CompanyPrefix}.{LocationReference}.0``.

    ``gln`` and ``prefix_length`` must have passed ``gln_problem`` and ``prefix_length_problem``.
    """
    return f"urn:epc:id:sgln:{gln[:prefix_length]}.{gln[prefix_length : GLN_LENGTH - 1]}.{NO_EXTENSION}"


def digital_link(gln: str) -> str:
    """The GLN's canonical GS1 Digital Link (``https://id.gs1.org/414/{gln}``)."""
    return f"https://{DIGITAL_LINK_HOST}{digital_link_path(gln)}"


def digital_link_path(gln: str) -> str:
    """The path of the GLN's Digital Link, ``/414/{gln}``: the form matched on when a prefix length is unknown."""
    return f"/414/{gln}"


def platform_uri(host: str, location_id: uuid.UUID) -> str:
    """The URI the platform gives a site without a GLN: ``https://{host}/loc/{id}``, which the resolver serves."""
    return f"https://{host.lower()}/loc/{location_id}"


def same_uri(uri: str) -> str:
    """``uri`` as compared with a stored one: an http(s) URI's scheme and host in lower case (they ignore case)."""
    parts = urlsplit(uri)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return uri
    return parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower()).geturl()


def gln_of(uri: str) -> str | None:
    """The GLN a location URI names as a whole site, or None if it names none.

    Reads an SGLN URN with extension ``0`` (any split of prefix and reference), a GS1 Digital Link
    ``http(s)://{any host}/414/{gln}`` and its bare path ``/414/{gln}``; a GLN whose check digit is
    wrong, and a sub-location (another extension, AI 254), name none.
    """
    sgln = _SGLN.fullmatch(uri)
    if sgln is not None:
        prefix, reference, extension = sgln.groups()
        if extension != NO_EXTENSION or len(prefix) + len(reference) != GLN_LENGTH - 1:
            return None
        body = prefix + reference
        return body + str(check_digit(body))
    if uri.startswith("/"):
        path = uri
    else:
        parts = urlsplit(uri)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc or parts.query:
            return None
        path = parts.path
    found = _GLN_PATH.fullmatch(path)
    if found is None or gln_problem(found.group(1)) is not None:
        return None
    return found.group(1)
