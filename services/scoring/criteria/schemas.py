"""Criteria request and response bodies: versions, product sets, score sheets as trees."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from shared.schemas import BaseSchema, NotBool, ReadSchema

SheetSource = Literal["generic", "imported"]
SheetStatus = Literal["draft", "published"]
# Generous bounds on what is parsed at all; the sheet's rules (ranges, sums, codes) are checked after
# parsing, all at once, by the service.
MAX_DEPTH = 6
MAX_NODES = 1000
Points = Annotated[Decimal, NotBool, Field(examples=[5])]
Code = Annotated[str, Field(min_length=1, max_length=40)]
Title = Annotated[str, Field(min_length=1, max_length=500)]
ProductSetNumber = Annotated[int, NotBool, Field(ge=1, le=26, description="1–26; null: a generic sheet")]


class BandRead(ReadSchema):
    """A star band: averages from ``lower`` (included) to ``upper`` (excluded, included for the top band)."""

    star: int
    lower: Decimal
    upper: Decimal
    upper_inclusive: bool


class ProductSetRead(ReadSchema):
    """A product set of a criteria version, with its group and sector in that version's classification."""

    criteria_version: str
    number: int
    name: str
    group_key: str
    group_name: str
    sector_key: str
    sector_name: str


class CriteriaVersionRead(ReadSchema):
    """A criteria version's rules."""

    code: str = Field(examples=["26/2026"])
    slug: str = Field(examples=["26-2026"], description="The code as a path segment: / and + become -")
    legal_ref: str
    in_force_from: date
    classification: str
    part_maxima: dict[str, int]
    bands: list[BandRead]
    rounding_rule: str
    certifiable_stars: list[int]
    levels: list[str]
    deciding_levels: dict[str, str] = Field(
        description="Certified star → the level whose decision certifies it"
    )
    district_certifies_3_star: bool
    validity_months: int
    expiry_notice_days: int
    default_quorum: Decimal
    quorum_includes_chair: bool
    default_max_spread: Decimal

    @classmethod
    def of(cls, version: Any) -> CriteriaVersionRead:
        """The body of a ``versions.CriteriaVersion``."""
        top = max(star for star, _, _ in version.bands)
        return cls.model_validate(
            {
                **{name: getattr(version, name) for name in cls.model_fields if hasattr(version, name)},
                "bands": [
                    BandRead(star=star, lower=lower, upper=upper, upper_inclusive=star == top)
                    for star, lower, upper in version.bands
                ],
                "deciding_levels": {
                    str(star): version.deciding_level(star) for star in version.certifiable_stars
                },
            }
        )


class CriteriaVersionDetail(CriteriaVersionRead):
    """A criteria version's rules and its 26 product sets."""

    product_sets: list[ProductSetRead]

    @classmethod
    def of(cls, version: Any) -> CriteriaVersionDetail:
        """The body of a ``versions.CriteriaVersion`` with its sets."""
        sets = [
            ProductSetRead(criteria_version=version.code, **asdict(product_set))
            for product_set in version.product_sets
        ]
        return cls.model_validate({**CriteriaVersionRead.of(version).model_dump(), "product_sets": sets})


class OptionIn(BaseSchema):
    """An option of a leaf criterion."""

    code: Annotated[str, Field(min_length=1, max_length=10, examples=["a"])]
    label: Title
    points: Points


class NodeIn(BaseSchema):
    """A part, criterion or sub-criterion: a leaf has options, any other node children."""

    code: Annotated[Code, Field(examples=["A.1.2"])]
    title: Title
    max_points: Points
    mandatory_for_3_star: bool = False
    eliminating: bool = False
    children: Annotated[list[NodeIn], Field(max_length=200, default_factory=list)]
    options: Annotated[list[OptionIn], Field(max_length=50, default_factory=list)]


def _shape(value: Any, field: str) -> list[str]:
    """Depth and size faults of a raw node tree, found without recursion (before the model parses it)."""
    faults: list[str] = []
    stack = [(node, 1) for node in value] if isinstance(value, list) else []
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if depth > MAX_DEPTH:
            faults.append(f"{field}: a sheet is at most {MAX_DEPTH} levels deep")
            break
        if count > MAX_NODES:
            faults.append(f"{field}: a sheet has at most {MAX_NODES} nodes")
            break
        children = node.get("children") if isinstance(node, dict) else None
        if isinstance(children, list):
            stack.extend((child, depth + 1) for child in children)
    return faults


class ScoreSheetCreate(BaseSchema):
    """A score sheet to import: the version, the product set (null: generic) and the tree of nodes."""

    criteria_version: Annotated[str, Field(min_length=1, max_length=20, examples=["26/2026"])]
    product_set: ProductSetNumber | None = None
    nodes: Annotated[list[NodeIn], Field(max_length=10, description="The parts A, B and C")]

    @model_validator(mode="before")
    @classmethod
    def _bounded(cls, data: Any) -> Any:
        """A tree too deep or too large is refused before it is parsed recursively."""
        if isinstance(data, dict):
            faults = _shape(data.get("nodes"), "nodes")
            if faults:
                raise ValueError("; ".join(faults))
        return data


class OptionRead(ReadSchema):
    """An option and its points."""

    code: str
    label: str
    points: Decimal


class NodeRead(ReadSchema):
    """A node of a sheet with its children (or, for a leaf, its options); importable as is."""

    code: str
    title: str
    max_points: Decimal
    mandatory_for_3_star: bool
    eliminating: bool
    children: list[NodeRead]
    options: list[OptionRead]


class ScoreSheetSummary(ReadSchema):
    """A score sheet without its tree."""

    id: uuid.UUID
    criteria_version: str
    product_set: int | None = Field(description="null: the generic sheet of every set")
    sheet_version: int
    source: SheetSource
    status: SheetStatus
    used: bool = Field(description="Pinned by an application: never changed or deleted")
    imported_by: str | None
    province_code: str | None = Field(description="The importing province; null: national")
    checksum: str
    created_at: datetime


class ScoreSheetRead(ScoreSheetSummary):
    """A score sheet and its whole tree."""

    nodes: list[NodeRead]

    @classmethod
    def of(cls, document: Any) -> ScoreSheetRead:
        """The body of a ``service.SheetDocument`` (a stored sheet and its ``arithmetic.SheetTree``)."""
        tree = document.tree

        def nested(parent: str | None) -> list[NodeRead]:
            return [
                NodeRead(
                    code=node.code,
                    title=node.title,
                    max_points=node.max_points,
                    mandatory_for_3_star=node.mandatory_for_3_star,
                    eliminating=node.eliminating,
                    children=nested(node.code),
                    options=[OptionRead(code=o.code, label=o.label, points=o.points) for o in node.options],
                )
                for node in tree.children.get(parent, ())
            ]

        summary = ScoreSheetSummary.model_validate(document.sheet)
        return cls(**summary.model_dump(), nodes=nested(None))
