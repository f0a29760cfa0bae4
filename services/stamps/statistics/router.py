"""HTTP routes of /v1/stamp-statistics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.stamps.statistics import service
from services.stamps.statistics.schemas import GroupBy, StampStatistics
from shared.db import SessionDep
from shared.schemas import problems
from shared.security.dependencies import PrincipalDep

router = APIRouter(prefix="/v1/stamp-statistics", tags=["stamp statistics"])


@router.get("", response_model=StampStatistics, responses=problems(401))
async def stamp_statistics_read(
    session: SessionDep,
    principal: PrincipalDep,
    group_by: Annotated[GroupBy, Query(description="product, entity (the producer) or province")],
    province_code: Annotated[str | None, Query(pattern=r"^\d{2}$", description="Only this province")] = None,
) -> StampStatistics:
    """Stamps issued, active and scanned, and certified products' coverage by active stamps, by group."""
    return await service.stamp_statistics(
        session, principal=principal, group_by=group_by, province_code=province_code
    )
