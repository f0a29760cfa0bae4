"""Responses of /v1/stamp-statistics."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from shared.schemas import ReadSchema

GroupBy = Literal["product", "entity", "province"]


class StampFigures(ReadSchema):
    """The stamps of a group and its certified products' coverage by active stamps."""

    stamps_issued: int = Field(
        description="Stamps issued or beyond: issued, active, suspended or revoked (not reserved, not void)"
    )
    stamps_active: int = Field(description="Stamps active now (on a product, verifiable)")
    stamps_scanned: int = Field(description="Distinct stamps scanned at least once")
    scans: int = Field(description="Scans of those stamps, all told")
    certified_products: int = Field(
        description="Products whose OCOP certificate is in force today (the snapshot's)"
    )
    certified_products_with_active_stamps: int = Field(
        description="Of those, the products with at least one active stamp"
    )
    active_stamp_coverage: float | None = Field(
        description="certified_products_with_active_stamps / certified_products (null without certified products)"
    )


class StampGroup(StampFigures):
    """One group's figures: a product, a producer (entity) or a province."""

    key: str = Field(description="The product's or entity's id, or the province's code")
    label: str | None = Field(
        description="The product's, producer's or province's name, as the snapshot holds it"
    )


class StampStatistics(ReadSchema):
    """Stamp figures by group, within what the caller may see, and their total."""

    group_by: GroupBy
    province_code: str | None
    as_of: date = Field(description="The day certificates are in force on (Vietnam's date)")
    total: StampFigures
    items: list[StampGroup]
