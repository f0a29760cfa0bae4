"""The national criteria versions as data (OCOP-DOMAIN.md §2–§3), and the star an average total earns.

Five versions, each from the day it came into force: 1048 (2019), 1048+781 (2020), 148 (2023),
148+1489 (2025) and 26/2026. Each carries its part maxima, its star bands, who decides which star,
the certificate's validity, the councils' defaults and its 26 product sets (read from the one
classification file, ``shared/reference/ocop_classification.json``, which the registry reads too).

**Star bands.** 148 and 26/2026 word their bands as half-open intervals: [0, 30) 1★, [30, 50) 2★,
[50, 70) 3★, [70, 90) 4★, [90, 100] 5★ (100 included). 1048 words them in integers ("70–89"), which
leaves an average such as 89.5 in no band. **Decision:** 1048 and 1048+781 read their integer bands
as the same half-open intervals, so 89.5 gives 4★ and 49.99 gives 2★; the rule's name,
``1048-integer-as-half-open``, is recorded on the version (``rounding_rule``) so a result says which
reading produced it. The alternative reading (round the average half up to an integer, so 89.5 gives
5★) exists as the rule ``1048-round-half-up``; no version applies it, and changing the rule of a
version is a change of this module, never of a decided result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from shared.reference import ocop_classification

CriteriaCode = Literal["1048", "1048+781", "148", "148+1489", "26/2026"]
# The rules of the provincial programmes before the national criteria: history only (see PROVINCIAL).
HistoricalCode = Literal["provincial"]
Level = Literal["commune_precheck", "district", "province", "central"]
Classification = Literal["1048", "148", "26/2026"]

PARTS = ("A", "B", "C")
MAX_TOTAL = Decimal(100)
HALF_OPEN = "half-open"
INTEGER_AS_HALF_OPEN_1048 = "1048-integer-as-half-open"
ROUND_HALF_UP_1048 = "1048-round-half-up"


def _unchanged(average: Decimal) -> Decimal:
    return average


def _to_integer_half_up(average: Decimal) -> Decimal:
    return average.quantize(Decimal(1), rounding=ROUND_HALF_UP)


# Rounding rule name → what it does to an average before the bands are applied.
ROUNDING_RULES: dict[str, Callable[[Decimal], Decimal]] = {
    HALF_OPEN: _unchanged,
    INTEGER_AS_HALF_OPEN_1048: _unchanged,
    ROUND_HALF_UP_1048: _to_integer_half_up,
}

# (star, lower inclusive, upper exclusive); the top band also includes its upper bound (100).
Band = tuple[int, Decimal, Decimal]
HALF_OPEN_BANDS: tuple[Band, ...] = (
    (1, Decimal(0), Decimal(30)),
    (2, Decimal(30), Decimal(50)),
    (3, Decimal(50), Decimal(70)),
    (4, Decimal(70), Decimal(90)),
    (5, Decimal(90), Decimal(100)),
)


@dataclass(frozen=True)
class ProductSet:
    """One of a version's 26 product sets, where its classification places it."""

    number: int
    name: str
    group_key: str
    group_name: str
    sector_key: str
    sector_name: str


def product_sets_of(classification: Classification) -> tuple[ProductSet, ...]:
    """The 26 product sets as the classification file places them under ``classification``, by number."""
    reference = ocop_classification()
    version = reference["versions"][classification]
    placed: list[ProductSet] = []
    for group_key, group in version["groups"].items():
        sector_key = group["sector"]
        placed.extend(
            ProductSet(
                number,
                reference["product_sets"][str(number)],
                group_key,
                group["name"],
                sector_key,
                version["sectors"][sector_key],
            )
            for number in group["sets"]
        )
    return tuple(sorted(placed, key=lambda product_set: product_set.number))


@dataclass(frozen=True)
class CriteriaVersion:
    """A national criteria set and procedure, from the day it came into force."""

    code: CriteriaCode | HistoricalCode
    legal_ref: str
    in_force_from: date
    part_maxima: dict[str, int] = field(hash=False)
    classification: Classification
    levels: tuple[Level, ...]
    district_certifies_3_star: bool = False
    bands: tuple[Band, ...] = HALF_OPEN_BANDS
    rounding_rule: str = HALF_OPEN
    certifiable_stars: tuple[int, ...] = (3, 4, 5)
    validity_months: int = 36
    expiry_notice_days: int = 30
    default_quorum: Decimal = Decimal("0.75")
    quorum_includes_chair: bool = True
    # Members' totals further apart than this force a rescore (more than 10 points).
    default_max_spread: Decimal = Decimal(10)
    product_sets: tuple[ProductSet, ...] = field(default=(), hash=False)

    @property
    def slug(self) -> str:
        """The code as one path segment with nothing to escape: "26/2026" → "26-2026", "148+1489" → "148-1489"."""
        return slugify(self.code)

    def deciding_level(self, star: int) -> Level:
        """The level whose decision certifies ``star`` (ValueError for a star that is never certified)."""
        if star not in self.certifiable_stars:
            raise ValueError(f"{star}★ is not certified under {self.code}")
        if star == 5:
            return "central"
        if star == 3 and self.district_certifies_3_star:
            return "district"
        return "province"

    def stars_decided_at(self, level: Level) -> tuple[int, ...]:
        """The certified stars a council of ``level`` decides (none for the commune's pre-check)."""
        return tuple(star for star in self.certifiable_stars if self.deciding_level(star) == level)


def slugify(code: str) -> str:
    """A version code as a path-safe id."""
    return code.replace("/", "-").replace("+", "-")


OLD_LEVELS: tuple[Level, ...] = ("district", "province", "central")
TWO_TIER_LEVELS: tuple[Level, ...] = ("commune_precheck", "province", "central")
MAXIMA_1048 = {"A": 35, "B": 25, "C": 40}
MAXIMA_148 = {"A": 40, "B": 25, "C": 35}
SETS_1048, SETS_148, SETS_2026 = product_sets_of("1048"), product_sets_of("148"), product_sets_of("26/2026")

# In the order they came into force.
VERSIONS: dict[str, CriteriaVersion] = {
    version.code: version
    for version in (
        CriteriaVersion(
            code="1048", legal_ref="Quyết định 1048/QĐ-TTg ngày 21/8/2019", in_force_from=date(2019, 8, 21),
            part_maxima=MAXIMA_1048, classification="1048", levels=OLD_LEVELS,
            rounding_rule=INTEGER_AS_HALF_OPEN_1048, product_sets=SETS_1048,
        ),
        CriteriaVersion(
            code="1048+781",
            legal_ref="Quyết định 1048/QĐ-TTg (2019), sửa đổi bởi Quyết định 781/QĐ-TTg ngày 08/6/2020",
            in_force_from=date(2020, 6, 8), part_maxima=MAXIMA_1048, classification="1048", levels=OLD_LEVELS,
            district_certifies_3_star=True, rounding_rule=INTEGER_AS_HALF_OPEN_1048, product_sets=SETS_1048,
        ),
        CriteriaVersion(
            code="148", legal_ref="Quyết định 148/QĐ-TTg ngày 24/02/2023", in_force_from=date(2023, 2, 24),
            part_maxima=MAXIMA_148, classification="148", levels=OLD_LEVELS, district_certifies_3_star=True,
            product_sets=SETS_148,
        ),
        CriteriaVersion(
            code="148+1489",
            legal_ref="Quyết định 148/QĐ-TTg (2023), sửa đổi bởi Quyết định 1489/QĐ-TTg ngày 06/7/2025",
            in_force_from=date(2025, 7, 6), part_maxima=MAXIMA_148, classification="148",
            levels=TWO_TIER_LEVELS, product_sets=SETS_148,
        ),
        CriteriaVersion(
            code="26/2026", legal_ref="Quyết định 26/2026/QĐ-TTg ngày 22/5/2026", in_force_from=date(2026, 5, 22),
            part_maxima=MAXIMA_148, classification="26/2026", levels=TWO_TIER_LEVELS, product_sets=SETS_2026,
        ),
    )
}  # fmt: skip
BY_SLUG: dict[str, CriteriaVersion] = {version.slug: version for version in VERSIONS.values()}


def find(code_or_slug: str) -> CriteriaVersion | None:
    """The version with this code ("26/2026") or path-safe id ("26-2026"), if any."""
    return VERSIONS.get(code_or_slug) or BY_SLUG.get(code_or_slug)


# Before 21/8/2019 provinces rated products under their own OCOP programmes (Quảng Ninh's since 2013;
# OCOP-DOMAIN.md §8.2): 3–4★ by the province, 5★ only centrally, 36-month certificates, 1048's parts
# and bands (which the national criteria took over). History only: not a criteria version of the
# API, no sheets, never pinned by a submission; results and certificates recorded from that time
# (the demo's) carry its code, and the registry records them with no criteria version.
PROVINCIAL = CriteriaVersion(
    code="provincial", legal_ref="Chương trình OCOP cấp tỉnh, trước Quyết định 1048/QĐ-TTg",
    in_force_from=date(2013, 1, 1), part_maxima=MAXIMA_1048, classification="1048",
    levels=("province", "central"), rounding_rule=INTEGER_AS_HALF_OPEN_1048, product_sets=SETS_1048,
)  # fmt: skip
HISTORICAL: dict[str, CriteriaVersion] = {PROVINCIAL.code: PROVINCIAL}


def regime(code: str) -> CriteriaVersion:
    """The rules a decision was taken under: a national version, or the provincial programmes (KeyError else)."""
    return VERSIONS.get(code) or HISTORICAL[code]


def regime_on(day: date) -> CriteriaVersion:
    """The rules in force on ``day``: the national version, or the provincial programmes before 1048."""
    return version_in_force(day) if day >= VERSIONS["1048"].in_force_from else PROVINCIAL


def version_in_force(day: date) -> CriteriaVersion:
    """The latest version in force on ``day`` (ValueError before the first national criteria, 21/8/2019)."""
    in_force = [version for version in VERSIONS.values() if version.in_force_from <= day]
    if not in_force:
        raise ValueError(f"no national OCOP criteria were in force on {day.isoformat()}")
    return in_force[-1]


def star_for(version: CriteriaVersion, average: Decimal) -> int:
    """The star ``average`` (a council's average total, 0–100) earns under ``version``'s bands and rule."""
    if isinstance(average, bool) or not isinstance(average, Decimal | int):
        raise TypeError("the average is a Decimal (or an int), never a float")
    value = Decimal(average)
    if not value.is_finite() or not Decimal(0) <= value <= MAX_TOTAL:
        raise ValueError(f"an average total lies in [0, 100], not {value}")
    value = ROUNDING_RULES[version.rounding_rule](value)
    top = max(star for star, _, _ in version.bands)
    for star, lower, upper in version.bands:
        if lower <= value < upper or (star == top and value == upper):
            return star
    raise ValueError(f"{value} lies in no band of {version.code}")  # the bands cover [0, 100]
