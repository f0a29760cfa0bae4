"""HTTP routes of /v1/stats: public aggregate counts (no token needed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from services.registry.stats import service
from services.registry.stats.schemas import EntityStats, EntityStatsBy, ProductStats, ProductStatsBy
from shared.db import SessionDep
from shared.schemas import problems
from shared.security.dependencies import get_principal

router = APIRouter(prefix="/v1/stats", tags=["stats"], dependencies=[Depends(get_principal)])

ProvinceQuery = Annotated[str | None, Query(pattern=r"^\d{2}$", description="Only this province (code)")]
# Aggregates change slowly; letting partners' caches keep them a minute takes load off the registry.
CACHE_CONTROL = "public, max-age=60"


@router.get("/products", response_model=ProductStats, responses=problems(401))
async def stats_products(
    session: SessionDep,
    response: Response,
    by: Annotated[
        ProductStatsBy,
        Query(
            description="group, status, star (the current certificate's), commune, product_set; "
            "year = year of the first rating "
            "(first certificate), certificate_year = issue year of the current certificate"
        ),
    ],
    province: ProvinceQuery = None,
    certified_only: Annotated[
        bool, Query(description="Only products in the public catalogue (certificate active)")
    ] = False,
    include_lapsed: Annotated[
        bool,
        Query(
            description="by=star: count a product whose certificate lapsed under the star it gave "
            "(by default only current certificates give a star; the others count as null)"
        ),
    ] = False,
) -> ProductStats:
    """Products counted by one key; keys with no products are omitted, missing values count as null."""
    response.headers["Cache-Control"] = CACHE_CONTROL
    return await service.product_stats(
        session, by, province=province, certified_only=certified_only, include_lapsed=include_lapsed
    )


@router.get("/entities", response_model=EntityStats, responses=problems(401))
async def stats_entities(
    session: SessionDep,
    response: Response,
    by: Annotated[EntityStatsBy, Query(description="type (legal form) or commune")],
    province: ProvinceQuery = None,
) -> EntityStats:
    """Entities counted by one key; keys with no entities are omitted."""
    response.headers["Cache-Control"] = CACHE_CONTROL
    return await service.entity_stats(session, by, province=province)
