"""HTTP routes of /v1/catalogue: the public catalogue of certified products (no token needed)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from services.registry.catalogue import service
from services.registry.catalogue.schemas import (
    CatalogueProduct,
    CatalogueQuery,
    CatalogueSort,
    ProductGroup,
    Star,
)
from services.registry.entities.schemas import EntityType
from shared.db import ReadPoolDep
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from shared.schemas import Page, problems
from shared.security.dependencies import get_principal

router = APIRouter(prefix="/v1/catalogue", tags=["catalogue"])


def _json(body: bytes) -> Response:
    # PostgreSQL wrote the JSON (the documented response_model's shape): no model round trip.
    return Response(body, media_type="application/json")


# Anyone may read the catalogue; a token, if sent, must still be valid (401 otherwise).
@router.get(
    "", response_model=Page[CatalogueProduct], responses=problems(401), dependencies=[Depends(get_principal)]
)
async def catalogue_search(
    pool: ReadPoolDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    star: Annotated[list[Star] | None, Query(description="Star levels (repeat for several)")] = None,
    min_star: Annotated[int | None, Query(ge=1, le=5, description="At least this many stars")] = None,
    product_set: Annotated[int | None, Query(ge=1, le=26, description="National product set, 1–26")] = None,
    group: Annotated[ProductGroup | None, Query(description="Product group")] = None,
    province: Annotated[str | None, Query(pattern=r"^\d{2}$", description="Province code")] = None,
    commune: Annotated[
        str | None,
        Query(
            pattern=r"^\d{5}$",
            description="Commune code; a pre-2025 code also finds the products of the communes it became",
        ),
    ] = None,
    entity_type: Annotated[EntityType | None, Query(description="Legal form of the producer")] = None,
    is_national: Annotated[
        bool | None, Query(description="true: only national 5★; false: all but national 5★")
    ] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1, max_length=100, description="Product or producer name, with or without diacritics"
        ),
    ] = None,
    sort: Annotated[CatalogueSort | None, Query(description="Default: relevance with q, else name")] = None,
) -> Response:
    """Certified products with an active certificate: filter, search, sort, page with a cursor."""
    query = CatalogueQuery(
        stars=tuple(sorted(set(star or ()))), min_star=min_star, product_set=product_set, group=group,
        province=province, commune=commune, entity_type=entity_type, is_national=is_national,
    )  # fmt: skip
    return _json(await service.search(pool, query, q=q, sort=sort, cursor=cursor, limit=limit))


@router.get(
    "/{product_id}", response_model=CatalogueProduct, responses=problems(401, 404),
    dependencies=[Depends(get_principal)],
)  # fmt: skip
async def catalogue_read(product_id: uuid.UUID, pool: ReadPoolDep) -> Response:
    """The public record of one product in the catalogue."""
    return _json(await service.get_public_product(pool, product_id))
