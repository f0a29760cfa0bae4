"""The demo's ratings plan (``ratings.csv``) and the certificate chains scoring computes from it.

``ratings.csv`` is the registry demo generator's plan (``python -m services.registry.commands.demo_ratings``
writes it; the services share no code, and a test keeps the two equal): for each rated product of
the registry's demo, named by its producer's tax code and its name, its first rating (day, star,
level), the real later ratings of its sources, and whether it was re-recognised since.

The chain up to ``today`` is computed here, by scoring's rules: each certificate is valid 36 months,
and a renewed product is re-recognised (công nhận lại) on the day its certificate runs out, at its
star, unless a planned later rating comes first. Every certificate is decided under the rules in
force on its day (``versions.regime_on``: the provincial programmes before 1048, then the national
versions), at the level those rules give its star: 5★ central, 3★ a district's under 781 and 148,
otherwise the province's; a planned level that disagrees is an error in the plan. Pure: no database.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from importlib import resources

from services.scoring.criteria import versions
from shared import clock

PROVINCE_COMMITTEE = "Ủy ban nhân dân tỉnh Quảng Ninh"
MINISTRY_BEFORE_2025 = "Bộ Nông nghiệp và Phát triển nông thôn"
MINISTRY = "Bộ Nông nghiệp và Môi trường"
MINISTRY_RENAMED = date(2025, 3, 1)


@dataclass(frozen=True)
class PlannedRating:
    """One row of the plan: a certificate issued on ``rated_on`` (a known decision keeps its number)."""

    rated_on: date
    star: int
    level: str
    decision_number: str | None


@dataclass(frozen=True)
class PlannedProduct:
    """A rated product of the registry's demo and its planned ratings, earliest first."""

    tax_code: str
    product_name: str
    district: str
    ratings: tuple[PlannedRating, ...]
    renewed: bool


@dataclass(frozen=True)
class PlannedCertificate:
    """One certificate of a product's chain, with what decided it."""

    product: PlannedProduct
    issued_on: date
    star: int
    level: str
    criteria_version: str
    application_type: str
    issuing_authority: str
    decision_number: str | None


def read_plan() -> list[PlannedProduct]:
    """The plan of ``ratings.csv``, in its order."""
    text = resources.files(__package__).joinpath("ratings.csv").read_text(encoding="utf-8")
    products: dict[tuple[str, str], PlannedProduct] = {}
    for row in csv.DictReader(text.splitlines()):
        key = (row["tax_code"], row["product_name"])
        rating = PlannedRating(
            date.fromisoformat(row["rated_on"]),
            int(row["star"]),
            row["level"],
            row["decision_number"] or None,
        )
        known = products.get(key)
        ratings = (*known.ratings, rating) if known else (rating,)
        products[key] = PlannedProduct(key[0], key[1], row["district"], ratings, row["renewed"] == "true")
    return list(products.values())


def issuing_authority(level: str, district: str, day: date) -> str:
    """Who issued a Quảng Ninh certificate decided at ``level`` on ``day`` (OCOP-DOMAIN.md §1, §3)."""
    if level == "central":
        return MINISTRY_BEFORE_2025 if day < MINISTRY_RENAMED else MINISTRY
    if level == "district":
        return f"Ủy ban nhân dân {district}"
    return PROVINCE_COMMITTEE


def _certificate(
    product: PlannedProduct, day: date, star: int, previous: int | None, decision: str | None
) -> PlannedCertificate:
    regime = versions.regime_on(day)
    level = regime.deciding_level(star)
    kind = "new" if previous is None else "upgrade" if star > previous else "re_rating"
    return PlannedCertificate(
        product,
        day,
        star,
        level,
        regime.code,
        kind,
        issuing_authority(level, product.district, day),
        decision,
    )


def chain(product: PlannedProduct, today: date) -> list[PlannedCertificate]:
    """The product's certificates up to ``today``: planned ratings, and re-recognitions every 36 months."""
    for rating in product.ratings:
        expected = versions.regime_on(rating.rated_on).deciding_level(rating.star)
        if rating.level != expected:
            raise ValueError(
                f"{product.product_name}: a {rating.star}★ on {rating.rated_on} is decided at the {expected} level,"
                f" not {rating.level}"
            )
    pending = list(product.ratings[1:])
    first = product.ratings[0]
    issued: list[PlannedCertificate] = []
    day, star, decision = first.rated_on, first.star, first.decision_number
    while day <= today:
        certificate = _certificate(product, day, star, issued[-1].star if issued else None, decision)
        issued.append(certificate)
        if not product.renewed:
            break
        runs_out = clock.add_months(day, versions.regime(certificate.criteria_version).validity_months)
        if pending and pending[0].rated_on <= runs_out:
            rating = pending.pop(0)
            day, star, decision = rating.rated_on, rating.star, rating.decision_number
        else:
            day, decision = runs_out, None
    return issued
