"""Council, member and round request and response bodies."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, StrictBool

from shared.schemas import BaseSchema, NotBool, ReadSchema

Level = Literal["province", "central"]
# What a stored council or round may be: also a former district's (history only, never created here).
RecordedLevel = Literal["province", "central", "district"]
MemberRole = Literal["chair", "member", "secretary"]
RoundStatus = Literal["open", "closed"]

ProvinceCode = Annotated[str, Field(pattern=r"^\d{2}$", examples=["22"])]
Name = Annotated[
    str, Field(min_length=1, max_length=255, examples=["Hội đồng đánh giá OCOP tỉnh Quảng Ninh"])
]
Quorum = Annotated[
    Decimal,
    NotBool,
    Field(
        gt=0,
        le=1,
        max_digits=4,
        decimal_places=3,
        description="Share of scoring members needed",
        examples=["0.75"],
    ),
]
Spread = Annotated[
    Decimal,
    NotBool,
    Field(ge=0, le=100, max_digits=5, decimal_places=2, description="Largest allowed max − min of totals"),
]
Subject = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\s]+$", examples=["tv-hoang-anh"])]


class CouncilCreate(BaseSchema):
    """A council to set up: a province's (province officers of it, admins) or the central one (admins)."""

    name: Name
    level: Level
    province_code: ProvinceCode | None = Field(
        default=None, description="Required for province, absent for central"
    )
    quorum: Quorum = Decimal("0.75")
    quorum_includes_chair: StrictBool = True
    max_spread: Spread = Decimal(10)


class CouncilUpdate(BaseSchema):
    """Changes to a council; fields left out stay as they are."""

    name: Name | None = None
    quorum: Quorum | None = None
    quorum_includes_chair: StrictBool | None = None
    max_spread: Spread | None = None
    active: StrictBool | None = None


class CouncilRead(ReadSchema):
    """A council and its scoring rules."""

    id: uuid.UUID
    name: str
    level: RecordedLevel
    province_code: str | None
    quorum: Decimal
    quorum_includes_chair: bool
    max_spread: Decimal
    active: bool
    created_at: datetime
    updated_at: datetime


class MemberCreate(BaseSchema):
    """A person joining a council, by the subject of their council_member principal."""

    sub: Subject
    full_name: Annotated[str, Field(min_length=1, max_length=200, examples=["Hoàng Văn Anh"])]
    role: MemberRole = "member"


class MemberRead(ReadSchema):
    """A council member."""

    id: uuid.UUID
    council_id: uuid.UUID
    sub: str
    full_name: str
    role: MemberRole
    created_at: datetime


class RoundCreate(BaseSchema):
    """A scoring round of a council (its level and province are the council's)."""

    council_id: uuid.UUID
    name: Name
    cut_off: Annotated[date, Field(examples=["2026-12-30"])]


class RoundRead(ReadSchema):
    """A scoring round."""

    id: uuid.UUID
    council_id: uuid.UUID
    level: RecordedLevel
    province_code: str | None
    name: str
    cut_off: date
    status: RoundStatus
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
