"""How a council's cards become a decision: pure arithmetic, no database (OCOP-DOMAIN.md §3.1, §10.2).

- Quorum: at least ``quorum`` × the council's scoring members have scored, the chair among them when
  the council requires it.
- Spread: if max − min of the members' totals exceeds the council's ``max_spread`` the pass is not
  decided: the application goes to RESCORE and the members score again in a new pass.
- Mean: the average total is the arithmetic mean of the members' totals, and each part's average the
  mean of that part; each is rounded to 2 decimals with ROUND_HALF_UP (89.995 → 90.00), and the star
  bands are applied to the rounded average total, which is what the result records.
- Mandatory and eliminating criteria: a criterion failed on any member's card is failed for the
  product (recognition needs every member to find every mandatory criterion met). A product failing
  one is not recognised: its star is its band's, at most 2.
- Levels: a council decides only the stars its level certifies. At province level an average in a
  higher band (≥ 90 under 148+1489 and 26/2026) gives the highest provincial star (4★) and the outcome
  ``potential_5_star``; only a central council's result gives 5★, and a central result that does not
  keeps the provincial result in force (``provincial_result_kept``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

TWO_PLACES = Decimal("0.01")
RULE = "mean of the members' totals and parts, 2 decimals ROUND_HALF_UP; bands on the rounded mean"


@dataclass(frozen=True)
class Card:
    """What aggregation needs of one member's card."""

    member_id: uuid.UUID
    chair: bool
    parts: Mapping[str, Decimal]
    total: Decimal
    mandatory_failed: Sequence[str]
    eliminated: Sequence[str]


@dataclass(frozen=True)
class CouncilRules:
    """A council's quorum and spread rules."""

    quorum: Decimal
    quorum_includes_chair: bool
    max_spread: Decimal


@dataclass(frozen=True)
class Rescore:
    """The members' totals are too far apart: score again."""

    spread: Decimal
    totals: tuple[Decimal, ...]


@dataclass(frozen=True)
class Decision:
    """A decided pass: averages, stars and outcome."""

    average_total: Decimal
    parts: dict[str, Decimal]
    spread: Decimal
    band_star: int
    star: int
    outcome: str
    mandatory_failed: tuple[str, ...]
    eliminated: tuple[str, ...]


def mean(values: Sequence[Decimal]) -> Decimal:
    """The arithmetic mean, rounded to 2 decimals half up."""
    return (sum(values, Decimal(0)) / len(values)).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def spread_of(cards: Sequence[Card]) -> Decimal:
    """max − min of the cards' totals."""
    totals = [card.total for card in cards]
    return max(totals) - min(totals)


def quorum_shortfall(cards: Sequence[Card], *, expected: int, rules: CouncilRules) -> str | None:
    """Why the cards do not make a quorum of ``expected`` scoring members, or None when they do."""
    if expected == 0 or not cards:
        return "no member has scored"
    if Decimal(len(cards)) < rules.quorum * expected:
        return f"{len(cards)} of {expected} members scored; the quorum is {float(rules.quorum):.0%} of them"
    if rules.quorum_includes_chair and not any(card.chair for card in cards):
        return "the chair has not scored, and the council's quorum includes the chair"
    return None


def _union(groups: Sequence[Sequence[str]]) -> tuple[str, ...]:
    return tuple(sorted({code for group in groups for code in group}))


def decide(
    cards: Sequence[Card],
    *,
    rules: CouncilRules,
    level: str,
    band_star_of: Callable[[Decimal], int],
    stars_decided_here: Collection[int],
    provincial_star: int | None = None,
) -> Decision | Rescore:
    """The decision on a pass whose cards make a quorum, or Rescore when their totals spread too far.

    ``stars_decided_here``: the stars a council of ``level`` certifies under the pinned version;
    ``provincial_star``: at central level, the star of the provincial result that stays in force.
    """
    spread = spread_of(cards)
    if spread > rules.max_spread:
        return Rescore(spread, tuple(card.total for card in cards))
    average = mean([card.total for card in cards])
    part_names = sorted({name for card in cards for name in card.parts})
    parts = {name: mean([card.parts.get(name, Decimal(0)) for card in cards]) for name in part_names}
    mandatory_failed = _union([card.mandatory_failed for card in cards])
    eliminated = _union([card.eliminated for card in cards])
    failed = bool(mandatory_failed or eliminated)
    band = band_star_of(average)
    lowest_certified = min(stars_decided_here, default=3)

    def decision(star: int, outcome: str) -> Decision:
        return Decision(average, parts, spread, band, star, outcome, mandatory_failed, eliminated)

    if level == "central":
        if provincial_star is None:
            raise ValueError("a central decision needs the provincial result it may replace")
        if not failed and band in stars_decided_here:
            return decision(band, "recognised")
        return decision(provincial_star, "provincial_result_kept")
    if failed:
        return decision(min(band, lowest_certified - 1), "not_recognised")
    if band in stars_decided_here:
        return decision(band, "recognised")
    if stars_decided_here and band > max(stars_decided_here):
        return decision(max(stars_decided_here), "potential_5_star")
    return decision(band, "not_recognised")
