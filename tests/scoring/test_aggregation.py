"""How cards become a decision (services/scoring/applications/aggregation.py): quorum, spread, means and
their rounding, mandatory and eliminating criteria, and what each level may decide."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.scoring.applications.aggregation import (
    Card,
    CouncilRules,
    Decision,
    Rescore,
    decide,
    mean,
    quorum_shortfall,
)  # fmt: skip

RULES = CouncilRules(quorum=Decimal("0.75"), quorum_includes_chair=True, max_spread=Decimal(10))
PROVINCE_STARS = {3, 4}
CENTRAL_STARS = {5}


def bands_148(average: Decimal) -> int:
    """148's half-open bands, 100 inclusive in 5★ (the criteria package owns the real ones)."""
    return 1 + sum(average >= edge for edge in (Decimal(30), Decimal(50), Decimal(70), Decimal(90)))


def card(
    total: str, *, chair: bool = False, failed: tuple[str, ...] = (), eliminated: tuple[str, ...] = ()
) -> Card:
    value = Decimal(total)
    parts = {"A": value * Decimal("0.4"), "B": value * Decimal("0.25"), "C": value * Decimal("0.35")}
    return Card(uuid.uuid4(), chair, parts, value, failed, eliminated)


def province(*cards: Card) -> Decision | Rescore:
    return decide(
        cards, rules=RULES, level="province", band_star_of=bands_148, stars_decided_here=PROVINCE_STARS
    )


def central(*cards: Card, provincial_star: int = 4) -> Decision | Rescore:
    return decide(
        cards, rules=RULES, level="central", band_star_of=bands_148, stars_decided_here=CENTRAL_STARS,
        provincial_star=provincial_star,
    )  # fmt: skip


def decided(outcome: Decision | Rescore) -> Decision:
    assert isinstance(outcome, Decision), outcome
    return outcome


def test_the_mean_rounds_half_up_to_two_places() -> None:
    """89.99 and 90.00 average 89.995, recorded as 90.00: the bands see the rounded mean (5★ band)."""
    assert mean([Decimal("89.99"), Decimal("90.00")]) == Decimal("90.00")
    assert mean([Decimal("70.01"), Decimal("70.00"), Decimal("70.00")]) == Decimal("70.00")
    assert mean([Decimal("70.02"), Decimal("70.00"), Decimal("70.00")]) == Decimal("70.01")
    result = decided(province(card("89.99", chair=True), card("90.00")))
    assert (result.average_total, result.band_star, result.star, result.outcome) == (
        Decimal("90.00"), 5, 4, "potential_5_star",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("totals", "star", "outcome"),
    [
        (("49.99", "49.99"), 2, "not_recognised"),
        (("50.00", "50.00"), 3, "recognised"),
        (("69.99", "69.99"), 3, "recognised"),
        (("70.00", "70.00"), 4, "recognised"),
        (("89.99", "89.99"), 4, "recognised"),
        (("90.00", "90.00"), 4, "potential_5_star"),
        (("100.00", "100.00"), 4, "potential_5_star"),
        (("20.00", "20.00"), 1, "not_recognised"),
    ],
)
def test_a_province_decides_up_to_four_stars(totals: tuple[str, ...], star: int, outcome: str) -> None:
    """Band edges at province level: 90 and above is a 4★ decision that routes the product to central."""
    result = decided(province(card(totals[0], chair=True), *(card(total) for total in totals[1:])))
    assert (result.star, result.outcome) == (star, outcome)


@pytest.mark.parametrize(
    ("total", "star", "outcome"),
    [
        ("95.00", 5, "recognised"),
        ("90.00", 5, "recognised"),
        ("89.99", 4, "provincial_result_kept"),
        ("60.00", 4, "provincial_result_kept"),
    ],
)
def test_only_central_gives_five_stars_and_otherwise_keeps_the_provincial_result(
    total: str, star: int, outcome: str
) -> None:
    """A central result under 90 (whatever its band) leaves the provincial 4★ in force."""
    result = decided(central(card(total, chair=True), card(total)))
    assert (result.star, result.outcome) == (star, outcome)


def test_a_central_decision_needs_the_provincial_star() -> None:
    """Central level without a provincial result is a programming error, not a guess."""
    with pytest.raises(ValueError, match="provincial"):
        decide(
            [card("95", chair=True)],
            rules=RULES,
            level="central",
            band_star_of=bands_148,
            stars_decided_here={5},
        )


def test_a_mandatory_criterion_failed_on_any_card_is_not_recognised() -> None:
    """One member finding a mandatory criterion failed is enough: the star is capped at 2."""
    result = decided(province(card("80", chair=True), card("82", failed=("A.1.1",)), card("81")))
    assert (result.band_star, result.star, result.outcome, result.mandatory_failed) == (
        4,
        2,
        "not_recognised",
        ("A.1.1",),
    )
    low = decided(province(card("25", chair=True, failed=("C.1",)), card("25")))
    assert (low.star, low.outcome) == (1, "not_recognised")


def test_an_eliminating_criterion_is_not_recognised_even_at_95() -> None:
    """An eliminating condition rejects the product at province level, and blocks 5★ at central."""
    result = decided(province(card("95", chair=True, eliminated=("B.9",)), card("95")))
    assert (result.star, result.outcome, result.eliminated) == (2, "not_recognised", ("B.9",))
    kept = decided(central(card("95", chair=True, eliminated=("B.9",)), card("95")))
    assert (kept.star, kept.outcome) == (4, "provincial_result_kept")


def test_the_spread_rule_is_strictly_more_than_the_councils_maximum() -> None:
    """max − min = 10 is decided; 10.01 goes to rescore with the totals."""
    assert isinstance(province(card("60", chair=True), card("70")), Decision)
    rescore = province(card("60", chair=True), card("70.01"), card("65"))
    assert isinstance(rescore, Rescore)
    assert (rescore.spread, rescore.totals) == (
        Decimal("10.01"),
        (Decimal("60"), Decimal("70.01"), Decimal("65")),
    )
    strict = CouncilRules(Decimal("0.75"), True, Decimal(5))
    assert isinstance(
        decide([card("60", chair=True), card("66")], rules=strict, level="province", band_star_of=bands_148,
               stars_decided_here=PROVINCE_STARS),
        Rescore,
    )  # fmt: skip


def test_parts_are_averaged_each_on_its_own() -> None:
    """The result keeps the mean of each part, rounded like the total."""
    first = Card(
        uuid.uuid4(),
        True,
        {"A": Decimal("30"), "B": Decimal("20"), "C": Decimal("25")},
        Decimal("75"),
        (),
        (),
    )
    second = Card(
        uuid.uuid4(),
        False,
        {"A": Decimal("31"), "B": Decimal("21"), "C": Decimal("26")},
        Decimal("78"),
        (),
        (),
    )
    result = decided(province(first, second))
    assert result.parts == {"A": Decimal("30.50"), "B": Decimal("20.50"), "C": Decimal("25.50")}
    assert result.average_total == Decimal("76.50")


@pytest.mark.parametrize(
    ("scored", "expected", "chair", "includes_chair", "short"),
    [
        (3, 4, True, True, False),
        (2, 4, True, True, True),
        (3, 4, False, True, True),
        (3, 4, False, False, False),
        (5, 7, True, True, True),  # 5/7 = 71 % < 75 %
        (6, 7, True, True, False),
        (0, 4, False, False, True),
    ],
)
def test_quorum(scored: int, expected: int, chair: bool, includes_chair: bool, short: bool) -> None:
    """At least 75 % of the scoring members, the chair among them when the council says so."""
    cards = [card("70", chair=chair and index == 0) for index in range(scored)]
    rules = CouncilRules(Decimal("0.75"), includes_chair, Decimal(10))
    assert (quorum_shortfall(cards, expected=expected, rules=rules) is not None) is short


totals = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False)


@given(st.lists(totals, min_size=1, max_size=9))
def test_a_pass_is_decided_exactly_when_the_spread_is_within_the_maximum(values: list[Decimal]) -> None:
    """Rescore iff max − min > 10; a decided mean lies between the lowest and highest total."""
    cards = [card(str(value), chair=index == 0) for index, value in enumerate(values)]
    outcome = province(*cards)
    assert isinstance(outcome, Rescore) is (max(values) - min(values) > 10)
    if isinstance(outcome, Decision):
        assert min(values) <= outcome.average_total <= max(values)
        assert outcome.star <= 4
        assert outcome.outcome in ("recognised", "not_recognised", "potential_5_star")
