"""The pure arithmetic of criteria: star bands per version, the versions' rules, and scoring one card."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.scoring.criteria import versions
from services.scoring.criteria.arithmetic import InvalidChoices, Node, Option, SheetTree, score_card
from services.scoring.criteria.generic_sheets import generic_nodes
from services.scoring.criteria.validation import in_tree_order, tree_of
from services.scoring.criteria.versions import VERSIONS, star_for, version_in_force

PROPERTY = settings(database=None, deadline=None, max_examples=300)
HALF_OPEN_VERSIONS = ["148", "148+1489", "26/2026"]
AVERAGES = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False)


def _band_of(version: versions.CriteriaVersion, average: Decimal) -> list[int]:
    """Every band of ``version`` whose interval holds ``average`` (the top band includes 100)."""
    top = max(star for star, _, _ in version.bands)
    return [
        star
        for star, lower, upper in version.bands
        if lower <= average < upper or (star == top and average == upper)
    ]


@pytest.mark.parametrize("code", HALF_OPEN_VERSIONS)
@pytest.mark.parametrize(
    ("average", "star"),
    [("0", 1), ("29.99", 1), ("30", 2), ("49.99", 2), ("50", 3), ("69.99", 3), ("70", 4), ("89.99", 4),
     ("90", 5), ("99.99", 5), ("100", 5)],
)  # fmt: skip
def test_band_edges_of_the_half_open_versions(code: str, average: str, star: int) -> None:
    assert star_for(VERSIONS[code], Decimal(average)) == star


@pytest.mark.parametrize("code", ["1048", "1048+781"])
def test_1048_reads_its_integer_bands_as_half_open(code: str) -> None:
    version = VERSIONS[code]
    assert version.rounding_rule == "1048-integer-as-half-open"
    assert star_for(version, Decimal("89.5")) == 4
    assert star_for(version, Decimal("89.99")) == 4
    assert star_for(version, Decimal("49.5")) == 2
    assert star_for(version, Decimal(90)) == 5
    assert star_for(version, Decimal(50)) == 3


def test_the_other_1048_reading_is_a_named_rule_no_version_applies() -> None:
    rounded = dataclasses.replace(VERSIONS["1048"], rounding_rule=versions.ROUND_HALF_UP_1048)
    assert star_for(rounded, Decimal("89.5")) == 5
    assert star_for(rounded, Decimal("89.49")) == 4
    assert all(version.rounding_rule != versions.ROUND_HALF_UP_1048 for version in VERSIONS.values())


@PROPERTY
@given(code=st.sampled_from(list(VERSIONS)), average=AVERAGES)
def test_every_average_in_range_lies_in_exactly_one_band(code: str, average: Decimal) -> None:
    version = VERSIONS[code]
    holding = _band_of(version, average)
    assert len(holding) == 1
    assert star_for(version, average) == holding[0]


@PROPERTY
@given(code=st.sampled_from(list(VERSIONS)), first=AVERAGES, second=AVERAGES)
def test_the_star_never_falls_as_the_average_rises(code: str, first: Decimal, second: Decimal) -> None:
    low, high = sorted((first, second))
    assert star_for(VERSIONS[code], low) <= star_for(VERSIONS[code], high)


@pytest.mark.parametrize(
    "average", [Decimal("-0.01"), Decimal("100.01"), Decimal("NaN"), Decimal("Infinity")]
)
def test_an_average_outside_0_to_100_has_no_star(average: Decimal) -> None:
    with pytest.raises(ValueError, match=r"\[0, 100\]"):
        star_for(VERSIONS["148"], average)


def test_a_float_average_is_refused() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        star_for(VERSIONS["148"], 89.99)  # type: ignore[arg-type]


def test_versions_carry_their_maxima_levels_and_council_defaults() -> None:
    assert VERSIONS["1048"].part_maxima == {"A": 35, "B": 25, "C": 40}
    assert VERSIONS["1048+781"].part_maxima == {"A": 35, "B": 25, "C": 40}
    for code in ("148", "148+1489", "26/2026"):
        assert VERSIONS[code].part_maxima == {"A": 40, "B": 25, "C": 35}
    for version in VERSIONS.values():
        assert sum(version.part_maxima.values()) == 100
        assert version.certifiable_stars == (3, 4, 5)
        assert (version.validity_months, version.expiry_notice_days) == (36, 30)
        assert (version.default_quorum, version.quorum_includes_chair) == (Decimal("0.75"), True)
        assert version.default_max_spread == Decimal(10)
        assert [product_set.number for product_set in version.product_sets] == list(range(1, 27))
    assert VERSIONS["148+1489"].levels == ("commune_precheck", "province", "central")
    assert VERSIONS["26/2026"].levels == ("commune_precheck", "province", "central")
    assert "district" in VERSIONS["148"].levels
    assert {code: version.classification for code, version in VERSIONS.items()} == {
        "1048": "1048", "1048+781": "1048", "148": "148", "148+1489": "148", "26/2026": "26/2026",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("code", "levels"),
    [
        ("1048", ("province", "province", "central")),
        ("1048+781", ("district", "province", "central")),
        ("148", ("district", "province", "central")),
        ("148+1489", ("province", "province", "central")),
        ("26/2026", ("province", "province", "central")),
    ],
)
def test_who_decides_which_star(code: str, levels: tuple[str, str, str]) -> None:
    version = VERSIONS[code]
    assert tuple(version.deciding_level(star) for star in (3, 4, 5)) == levels
    for star in (1, 2):
        with pytest.raises(ValueError, match="not certified"):
            version.deciding_level(star)


def test_only_the_central_level_decides_5_stars_under_the_current_regime() -> None:
    for code in ("148+1489", "26/2026"):
        assert VERSIONS[code].stars_decided_at("province") == (3, 4)
        assert VERSIONS[code].stars_decided_at("central") == (5,)
        assert VERSIONS[code].stars_decided_at("commune_precheck") == ()


def test_the_version_in_force_changes_on_the_day_each_came_into_force() -> None:
    for version in VERSIONS.values():
        assert version_in_force(version.in_force_from) is version
    assert version_in_force(date(2025, 7, 5)).code == "148"
    assert version_in_force(date(2030, 1, 1)).code == "26/2026"
    with pytest.raises(ValueError, match="no national OCOP criteria"):
        version_in_force(VERSIONS["1048"].in_force_from - timedelta(days=1))


def test_slugs_and_codes_find_the_same_version() -> None:
    for code, version in VERSIONS.items():
        assert versions.find(code) is version
        assert versions.find(version.slug) is version
        assert "/" not in version.slug
        assert "+" not in version.slug
    assert versions.find("26%2F2026") is None


# Scoring cards


def _generic(code: str) -> SheetTree:
    return tree_of(in_tree_order(generic_nodes(code)))


@pytest.mark.parametrize("code", list(VERSIONS))
def test_the_best_options_of_every_generic_sheet_score_100(code: str) -> None:
    tree = _generic(code)
    card = score_card(tree, tree.best_choices())
    assert card.total == Decimal(100)
    assert card.parts == {part: Decimal(points) for part, points in VERSIONS[code].part_maxima.items()}
    assert card.mandatory_failed == ()
    assert card.eliminated == ()


@PROPERTY
@given(code=st.sampled_from(list(VERSIONS)), data=st.data())
def test_any_card_stays_within_the_maxima_and_adds_up(code: str, data: st.DataObject) -> None:
    tree = _generic(code)
    choices = {leaf.code: data.draw(st.sampled_from([o.code for o in leaf.options])) for leaf in tree.leaves}
    card = score_card(tree, choices)
    for node in tree.nodes:
        assert Decimal(0) <= card.nodes[node.code] <= node.max_points
        children = tree.children.get(node.code)
        if children:
            assert card.nodes[node.code] == sum(card.nodes[child.code] for child in children)
    assert card.total == sum(card.parts.values())
    assert card.total <= Decimal(100)
    assert card.parts == {part.code: card.nodes[part.code] for part in tree.parts}
    failed = {node.code for node in tree.nodes if node.mandatory_for_3_star and card.nodes[node.code] == 0}
    assert set(card.mandatory_failed) == failed
    assert set(card.eliminated) == {n.code for n in tree.nodes if n.eliminating and card.nodes[n.code] == 0}


def test_the_worst_options_fail_the_flagged_criteria() -> None:
    tree = _generic("26/2026")
    card = score_card(tree, {leaf.code: leaf.options[0].code for leaf in tree.leaves})
    assert card.total == 0
    assert card.mandatory_failed == ("A.1.5", "A.2.3", "C.2.1")
    assert card.eliminated == ("A.3.1", "C.2.2")


def test_a_node_never_scores_more_than_its_maximum() -> None:
    # Stored sheets are validated, but the arithmetic caps on its own: a sheet of over-generous
    # options still scores each node at most its maximum.
    tree = SheetTree((
        Node("A", "A", None, "A", Decimal(10)),
        Node("A.1", "A", "A", "A.1", Decimal(4), options=(Option("a", "a", Decimal(0)), Option("b", "b", Decimal(9)))),
        Node("A.2", "A", "A", "A.2", Decimal(6), options=(Option("a", "a", Decimal(0)), Option("b", "b", Decimal(6)))),
        Node("B", "B", None, "B", Decimal(5)),
        Node("B.1", "B", "B", "B.1", Decimal(5), options=(Option("a", "a", Decimal(7)), Option("b", "b", Decimal(1)))),
    ))  # fmt: skip
    card = score_card(tree, {"A.1": "b", "A.2": "b", "B.1": "a"})
    assert card.nodes["A.1"] == Decimal(4)
    assert card.parts == {"A": Decimal(10), "B": Decimal(5)}
    assert card.total == Decimal(15)


def test_bad_choices_are_all_named_and_nothing_is_scored() -> None:
    tree = _generic("148")
    choices = tree.best_choices()
    del choices["A.1.1"], choices["C.3.1"]
    choices |= {"A.2.1": "z", "Z.9": "a", "A.1": "a"}
    with pytest.raises(InvalidChoices) as raised:
        score_card(tree, choices)
    problem = raised.value
    assert problem.status == 422
    assert {(error["field"], error["type"]) for error in problem.extensions["errors"]} == {
        ("body.choices.A.1.1", "missing_choice"),
        ("body.choices.C.3.1", "missing_choice"),
        ("body.choices.A.2.1", "unknown_option"),
        ("body.choices.Z.9", "unknown_criterion"),
        ("body.choices.A.1", "not_a_leaf"),
    }


@PROPERTY
@given(data=st.data())
def test_every_foreign_or_missing_choice_is_named(data: st.DataObject) -> None:
    tree = _generic("26/2026")
    leaves = [leaf.code for leaf in tree.leaves]
    choices = tree.best_choices()
    missing = data.draw(st.sets(st.sampled_from(leaves), max_size=5))
    foreign = data.draw(st.sets(st.sampled_from(sorted(set(leaves) - missing)), max_size=5))
    unknown = data.draw(st.sets(st.from_regex(r"[D-Z]\.[0-9]{1,2}", fullmatch=True), max_size=3))
    for code in missing:
        del choices[code]
    for code in foreign:
        choices[code] = "zz"
    for code in unknown:
        choices[code] = "a"
    named = {error["field"].removeprefix("scores.") for error in _errors(tree, choices)}
    assert named == missing | foreign | unknown


def _errors(tree: SheetTree, choices: dict[str, str]) -> list[dict[str, str]]:
    try:
        score_card(tree, choices, field_prefix="scores")
    except InvalidChoices as exc:
        errors: list[dict[str, str]] = exc.extensions["errors"]
        return errors
    return []
