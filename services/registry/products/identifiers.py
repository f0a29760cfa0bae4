"""GTIN check digits and product codes."""

from __future__ import annotations

from shared import gs1

VIETNAM_GS1_PREFIX = "893"


def gtin_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for the digits before it (weights 3,1,3,… from the right)."""
    return gs1.check_digit(body)


def gtin_is_valid(gtin: str) -> bool:
    """Whether a GTIN-8/12/13/14 has the right length and check digit."""
    return gtin.isdigit() and len(gtin) in (8, 12, 13, 14) and gtin_check_digit(gtin[:-1]) == int(gtin[-1])


def gtin_is_vietnamese(gtin: str) -> bool:
    """Whether the GTIN was issued under GS1 Vietnam's 893 prefix (GTIN-13, or GTIN-14 with indicator)."""
    return gtin.zfill(14)[1:4] == VIETNAM_GS1_PREFIX


def product_code(province_code: str, commune_code: str, sequence: int, year: int) -> str:
    """The OCOP product code province-commune-sequence-year (the 26/2026 form, no district)."""
    return f"{province_code}-{commune_code}-{sequence:04d}-{year}"
