"""HTTP routes of /v1/results/stats and /v1/certificates/stats: aggregate counts only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from services.scoring.stats import service
from services.scoring.stats.schemas import CertificateStats, ResultStats, StatsBy
from shared.db import SessionDep
from shared.schemas import problems
from shared.security.dependencies import PrincipalDep, get_principal

results_stats_router = APIRouter(prefix="/v1/results", tags=["stats"])
# Registered before the certificates' own router: "/v1/certificates/{certificate_id}" would take "stats".
certificates_stats_router = APIRouter(
    prefix="/v1/certificates", tags=["stats"], dependencies=[Depends(get_principal)]
)

ByQuery = Annotated[
    StatsBy,
    Query(description="star, level (province, central; district for history), product_set, province, year"),
]
ProvinceQuery = Annotated[str | None, Query(pattern=r"^\d{2}$", description="Only this province (code)")]
# Counts change slowly: caches may keep them a minute (public ones anywhere, results' only the caller's).
PUBLIC_CACHE = "public, max-age=60"
PRIVATE_CACHE = "private, max-age=60"


@results_stats_router.get("/stats", response_model=ResultStats, responses=problems(401, 403))
async def results_stats(
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    by: ByQuery,
    province_code: ProvinceQuery = None,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="Only decisions of this year")] = None,
) -> ResultStats:
    """Council decisions counted by one key, and the share of evaluated products rated 3★+ (admins,
    services, the national system; a province officer its own province)."""
    response.headers["Cache-Control"] = PRIVATE_CACHE
    return await service.result_stats(
        session, principal=principal, by=by, province_code=province_code, year=year
    )


@certificates_stats_router.get("/stats", response_model=CertificateStats, responses=problems(401))
async def certificates_stats(
    session: SessionDep,
    response: Response,
    by: ByQuery,
    province_code: ProvinceQuery = None,
    year: Annotated[
        int | None, Query(ge=2000, le=2100, description="Only certificates issued this year")
    ] = None,
) -> CertificateStats:
    """Certificates in force (active or expiring) counted by one key: anyone, no token needed."""
    response.headers["Cache-Control"] = PUBLIC_CACHE
    return await service.certificate_stats(session, by=by, province_code=province_code, year=year)
