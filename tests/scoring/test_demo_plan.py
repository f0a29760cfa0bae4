"""The demo's ratings plan: scoring's committed file is the registry generator's plan, and the chains
scoring computes from it follow the rules (36 months, the level and authority of the day)."""

from __future__ import annotations

from collections import Counter
from datetime import date
from importlib import resources

import pytest

from services.registry.demo.generator import FIRST_RATING_YEARS, STAR_COUNTS, UNRATED_STATUSES, generate
from services.registry.demo.plan import ratings_csv
from services.scoring.demo import plan
from services.scoring.demo.plan import PlannedProduct, PlannedRating, chain, read_plan
from shared import clock

TODAY = clock.today()


def product(*ratings: PlannedRating, renewed: bool = True) -> PlannedProduct:
    return PlannedProduct("9990099999", "Chả mực thử", "huyện Tiên Yên", ratings, renewed)


def test_the_committed_plan_is_what_the_registry_generator_plans() -> None:
    """services/scoring/demo/ratings.csv == `python -m services.registry.commands.demo_ratings --out -`."""
    committed = resources.files("services.scoring.demo").joinpath("ratings.csv").read_text(encoding="utf-8")
    assert committed == ratings_csv(generate(TODAY)), "run python -m services.registry.commands.demo_ratings"


def test_the_plan_gives_the_published_figures() -> None:
    """236 renewed products rated 162/67/7 today, first rated 85/55/56/40 in 2017–2020; 25 lapsed."""
    products = read_plan()
    renewed = [p for p in products if p.renewed]
    assert Counter(chain(p, TODAY)[-1].star for p in renewed) == Counter(STAR_COUNTS)
    assert Counter(p.ratings[0].rated_on.year for p in renewed) == Counter(FIRST_RATING_YEARS)
    lapsed = [p for p in products if not p.renewed]
    assert len(lapsed) == UNRATED_STATUSES["lapsed"]
    assert all(len(chain(p, TODAY)) == 1 and p.ratings[0].rated_on.year in (2021, 2022) for p in lapsed)
    assert len({(p.tax_code, p.product_name) for p in products}) == len(products)


def test_a_renewed_product_is_re_recognised_every_36_months_at_the_level_of_the_day() -> None:
    """3★ from 2017: the province (its own programme), then districts under 781 and 148, then the province."""
    certificates = chain(product(PlannedRating(date(2017, 3, 10), 3, "province", None)), date(2026, 12, 2))
    assert [(c.issued_on, c.level, c.criteria_version, c.application_type) for c in certificates] == [
        (date(2017, 3, 10), "province", "provincial", "new"),
        (date(2020, 3, 10), "province", "1048", "re_rating"),
        (date(2023, 3, 10), "district", "148", "re_rating"),
        (date(2026, 3, 10), "province", "148+1489", "re_rating"),
    ]
    assert [c.issuing_authority for c in certificates] == [
        plan.PROVINCE_COMMITTEE,
        plan.PROVINCE_COMMITTEE,
        "Ủy ban nhân dân huyện Tiên Yên",
        plan.PROVINCE_COMMITTEE,
    ]


def test_a_planned_later_rating_comes_before_the_renewal_and_an_upgrade_is_central() -> None:
    """Quy Hoa's pattern: 4★ provincial, then a national 5★ before the 36 months ran out."""
    certificates = chain(
        product(
            PlannedRating(date(2020, 11, 26), 4, "province", None),
            PlannedRating(date(2022, 12, 20), 5, "central", "12/QĐ-BNN-VPĐP"),
        ),
        date(2026, 12, 2),
    )
    assert [(c.issued_on, c.star, c.level, c.application_type, c.decision_number) for c in certificates] == [
        (date(2020, 11, 26), 4, "province", "new", None),
        (date(2022, 12, 20), 5, "central", "upgrade", "12/QĐ-BNN-VPĐP"),
        (date(2025, 12, 20), 5, "central", "re_rating", None),
    ]
    assert certificates[1].issuing_authority == plan.MINISTRY_BEFORE_2025
    assert certificates[2].issuing_authority == plan.MINISTRY


def test_a_lapsed_product_keeps_its_one_certificate_and_the_chain_stops_at_today() -> None:
    lapsed = product(PlannedRating(date(2021, 5, 4), 3, "district", None), renewed=False)
    assert [c.issued_on for c in chain(lapsed, date(2026, 12, 2))] == [date(2021, 5, 4)]
    renewed = product(PlannedRating(date(2020, 12, 3), 4, "province", None))
    assert [c.issued_on for c in chain(renewed, date(2026, 12, 2))] == [date(2020, 12, 3), date(2023, 12, 3)]
    assert [c.issued_on for c in chain(renewed, date(2026, 12, 3))][-1] == date(2026, 12, 3)


@pytest.mark.parametrize(
    ("rated_on", "star", "level"),
    [(date(2021, 5, 4), 3, "province"), (date(2025, 8, 1), 3, "district"), (date(2019, 1, 2), 5, "province")],
)
def test_a_plan_that_contradicts_the_rules_of_its_day_is_refused(
    rated_on: date, star: int, level: str
) -> None:
    with pytest.raises(ValueError, match="is decided at the"):
        chain(product(PlannedRating(rated_on, star, level, None)), TODAY)
