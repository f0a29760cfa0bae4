"""HTTP routes of /v1/anomalies: the review queue of counterfeit signals."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from services.stamps.anomalies import service
from services.stamps.anomalies.schemas import (
    AnomalyFilter,
    AnomalyRead,
    AnomalyResolve,
    AnomalyStatus,
    RuleId,
)
from shared.db import SessionDep
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from shared.schemas import IsoDateTime, Page, page_of, problems
from shared.security.dependencies import PrincipalDep

router = APIRouter(prefix="/v1/anomalies", tags=["anomalies"])
ProvinceQuery = Annotated[str | None, Query(pattern=r"^[0-9]{2}$", description="Province code (2 digits)")]
SerialQuery = Annotated[str | None, Query(min_length=1, max_length=18, description="A stamp's serial")]


@router.get("", response_model=Page[AnomalyRead], responses=problems(401))
async def anomalies_list(
    session: SessionDep, principal: PrincipalDep, limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None,
    status: AnomalyStatus | None = None, rule: RuleId | None = None, province_code: ProvinceQuery = None,
    serial: SerialQuery = None, since: IsoDateTime | None = None,
) -> Page[AnomalyRead]:  # fmt: skip
    """The anomalies the caller may see (an officer its province's, a producer its own), newest first."""
    where = AnomalyFilter(status=status, rule=rule, province_code=province_code, serial=serial, since=since)
    page = await service.list_anomalies(session, principal=principal, where=where, limit=limit, cursor=cursor)
    return page_of(AnomalyRead, page)


@router.get("/{anomaly_id}", response_model=AnomalyRead, responses=problems(401, 404))
async def anomalies_read(anomaly_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> AnomalyRead:
    """One anomaly with the figures that raised it."""
    return AnomalyRead.model_validate(
        await service.get_anomaly(session, principal=principal, anomaly_id=anomaly_id)
    )


@router.post("/{anomaly_id}/resolve", response_model=AnomalyRead, responses=problems(401, 403, 404, 409))
async def anomalies_resolve(
    anomaly_id: uuid.UUID, body: AnomalyResolve, session: SessionDep, principal: PrincipalDep
) -> AnomalyRead:
    """Close an open anomaly with a note (an officer of its province, or an admin)."""
    return AnomalyRead.model_validate(
        await service.resolve_anomaly(session, principal=principal, anomaly_id=anomaly_id, note=body.note)
    )
