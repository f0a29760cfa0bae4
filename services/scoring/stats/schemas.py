"""Statistics responses: counts per key, aggregates only."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.schemas import ReadSchema

StatsBy = Literal["star", "level", "product_set", "province", "year"]


class StatItem(ReadSchema):
    """How many records share one value of the grouping key."""

    key: str | None = Field(description="The value (null: records without one)")
    label: str | None = Field(default=None, description="Its name, where it has one (levels)")
    count: int


class RatedShare(ReadSchema):
    """Evaluated products and how many of them are rated 3★ or more by their latest decided result."""

    products_evaluated: int = Field(description="Products with at least one decided result (in the filters)")
    products_3_star_plus: int = Field(description="Of those, the products whose latest decided result is 3★+")
    share_3_star_plus: float | None = Field(
        description="products_3_star_plus / products_evaluated, 4 decimals; null when none was evaluated"
    )


class ResultStats(ReadSchema):
    """Council decisions (results) counted by one key; ``items`` add up to ``total``."""

    by: StatsBy
    province_code: str | None
    year: int | None
    total: int
    items: list[StatItem]
    rated: RatedShare


class CertificateStats(ReadSchema):
    """Certificates in force (active or expiring) counted by one key; ``items`` add up to ``total``."""

    by: StatsBy
    province_code: str | None
    year: int | None
    total: int
    items: list[StatItem]
