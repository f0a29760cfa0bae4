"""HTTP routes of /v1/admin-units: public reference data, readable without a token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from services.registry.admin_units import service
from services.registry.admin_units.schemas import (
    AdminUnitDetail,
    AdminUnitRead,
    AdminUnitSuccessors,
    IsoDate,
    Level,
)
from shared import clock
from shared.db import SessionDep
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from shared.schemas import Page, Problem

router = APIRouter(prefix="/v1/admin-units", tags=["admin-units"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {
        "model": Problem,
        "description": "No unit has this code on the date (the detail and `periods` name the dates it did)",
    }
}

CODE_PATTERN = r"^[0-9]{1,10}$"
CodePath = Annotated[str, Path(pattern=CODE_PATTERN, description="Official (GSO) code", examples=["07090"])]
CodeQuery = Annotated[str | None, Query(pattern=CODE_PATTERN)]
OnQuery = Annotated[
    IsoDate | None,
    Query(description="The date at which units are taken (YYYY-MM-DD); today in Vietnam by default"),
]


@router.get("", response_model=Page[AdminUnitRead])
async def admin_units_list(
    session: SessionDep,
    q: Annotated[
        str | None,
        Query(max_length=100, description="Name (with or without diacritics, any part) or code prefix"),
    ] = None,
    level: Annotated[Level | None, Query()] = None,
    parent_code: CodeQuery = None,
    province_code: CodeQuery = None,
    on: OnQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[AdminUnitRead]:
    """List the units valid on a date, ordered by code."""
    return await service.list_units(
        session,
        on=on or clock.today(),
        q=q,
        level=level,
        parent_code=parent_code,
        province_code=province_code,
        limit=limit,
        cursor=cursor,
    )


@router.get("/{code}", response_model=AdminUnitDetail, responses=NOT_FOUND)
async def admin_units_read(code: CodePath, session: SessionDep, on: OnQuery = None) -> AdminUnitDetail:
    """Read the unit with this code valid on a date, with its successors and predecessors."""
    return await service.get_unit(session, code, on or clock.today())


@router.get("/{code}/successors", response_model=AdminUnitSuccessors, responses=NOT_FOUND)
async def admin_units_successors(
    code: CodePath,
    session: SessionDep,
    on: OnQuery = None,
    as_of: Annotated[
        IsoDate | None,
        Query(description="The date the code was recorded, to pick among units that reused it"),
    ] = None,
) -> AdminUnitSuccessors:
    """Resolve a code (old or current) to the units valid on a date, with partial-area flags."""
    return await service.successors_view(session, code, on or clock.today(), as_of)
