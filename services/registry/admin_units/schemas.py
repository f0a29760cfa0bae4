"""Administrative-unit response bodies (the units are reference data: nothing is written over HTTP)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from shared.schemas import ReadSchema

Level = Literal["province", "district", "commune"]
UnitStatus = Literal["active", "upcoming", "superseded", "abolished"]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date_text(value: Any) -> Any:
    """Only YYYY-MM-DD: pydantic would otherwise read "0" or "1700000000" as Unix timestamps."""
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError("expected a date as YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_text)]
"""A date given in a query string, accepted only in ISO form."""


class AdminUnitRead(ReadSchema):
    """A province, district or commune as it existed between ``valid_from`` and ``valid_to``."""

    id: int = Field(description="Surrogate id: codes are reused across reforms, ids never are")
    code: str = Field(examples=["07090"])
    name: str = Field(examples=["An Sinh"])
    full_name: str = Field(description="Name with its unit type", examples=["Phường An Sinh"])
    level: Level
    unit_type: str = Field(examples=["phường"])
    parent_code: str | None = Field(description="District before 1 July 2025, province after it")
    province_code: str = Field(examples=["22"])
    valid_from: date | None = Field(description="First day of validity; null when it predates the records")
    valid_to: date | None = Field(
        description="First day it no longer existed (exclusive); null while current"
    )
    status: UnitStatus = Field(
        description=(
            "Today's state: active; upcoming (not yet in force); superseded (replaced by the units in "
            "`successors`); abolished (its level no longer exists, e.g. districts since 1 July 2025)"
        )
    )


class AdminUnitLink(AdminUnitRead):
    """A unit on the other side of a succession; ``partial`` when only part of the area passed over."""

    partial: bool = Field(description="Only part of the predecessor's area went into the successor")


class AdminUnitDetail(AdminUnitRead):
    """One unit with the units it became (``successors``) and the units it was formed from."""

    successors: list[AdminUnitLink]
    predecessors: list[AdminUnitLink]


class AdminUnitSuccessors(ReadSchema):
    """The units valid on ``on`` that a code's unit became (the unit itself while it is still valid)."""

    code: str
    on: date
    unit: AdminUnitRead = Field(
        description="The unit the code named (on `as_of`, else on `on` or last before)"
    )
    items: list[AdminUnitLink] = Field(
        description="The units valid on `on`; `partial` if any step was partial"
    )
