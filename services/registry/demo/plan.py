"""The demo's ratings plan as scoring reads it: one CSV row per planned rating.

A product is named by its producer's tax code and its name (what the registry's API returns), with
the pre-2025 district-level unit its commune belonged to (whose People's Committee certified 3★
while districts did). ``renewed`` says whether the product was re-recognised every 36 months since
(false for the 25 lapsed products). Scoring keeps the file as ``services/scoring/demo/ratings.csv``;
``python -m services.registry.commands.demo_ratings`` writes it.
"""

from __future__ import annotations

import csv
import io

from services.registry.demo.generator import DemoData

COLUMNS = ("tax_code", "product_name", "district", "rated_on", "star", "level", "decision_number", "renewed")


def rating_rows(data: DemoData) -> list[dict[str, str]]:
    """The plan's rows, in loading order: each rated product's ratings, earliest first."""
    rows = []
    for product in data.products:
        for rating in product.ratings:
            rows.append(
                {"tax_code": product.entity.tax_code, "product_name": product.name,
                 "district": product.entity.commune.district_unit, "rated_on": rating.rated_on.isoformat(),
                 "star": str(rating.star), "level": rating.level, "decision_number": rating.decision_number or "",
                 "renewed": "true" if product.renewed else "false"}
            )  # fmt: skip
    return rows


def ratings_csv(data: DemoData) -> str:
    """The plan as CSV text (UTF-8, ``\\n`` line ends)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rating_rows(data))
    return out.getvalue()
