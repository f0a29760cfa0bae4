"""Statistics responses: counts per key, public aggregates only."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.schemas import ReadSchema

ProductStatsBy = Literal["group", "status", "star", "commune", "year", "certificate_year", "product_set"]
EntityStatsBy = Literal["type", "commune"]


class StatItem(ReadSchema):
    """How many records share one value of the grouping key."""

    key: str | None = Field(description="The value (null: records without one, e.g. not yet rated)")
    label: str | None = Field(default=None, description="Its name, where it has one (group, set, commune…)")
    count: int


class ProductStats(ReadSchema):
    """Products counted by one key; ``items`` add up to ``total``."""

    by: ProductStatsBy
    province: str | None
    certified_only: bool
    include_lapsed: bool = Field(description="by=star: lapsed certificates' stars counted too")
    total: int
    items: list[StatItem]


class EntityStats(ReadSchema):
    """Entities counted by one key; ``items`` add up to ``total``."""

    by: EntityStatsBy
    province: str | None
    total: int
    items: list[StatItem]
