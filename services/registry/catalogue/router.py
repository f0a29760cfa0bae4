"""HTTP routes of /v1/catalogue: the public catalogue of certified products (no token needed)."""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from services.registry.catalogue import service
from services.registry.catalogue.schemas import CatalogueParams, CatalogueProduct, CatalogueQuery
from shared.db import ReadPoolDep, get_read_pool
from shared.query_params import query_model, query_parameters
from shared.schemas import Page, problems
from shared.security.dependencies import get_principal

router = APIRouter(prefix="/v1/catalogue", tags=["catalogue"])


def _json(body: bytes) -> Response:
    # PostgreSQL wrote the JSON (the documented response_model's shape): no model round trip.
    return Response(body, media_type="application/json")


# Anyone may read the catalogue; a token, if sent, must still be valid (401 otherwise).
@router.get(
    "", response_model=Page[CatalogueProduct], responses=problems(401), dependencies=[Depends(get_principal)],
    openapi_extra=query_parameters(CatalogueParams),
)  # fmt: skip
async def catalogue_search(
    pool: ReadPoolDep, params: Annotated[CatalogueParams, Depends(query_model(CatalogueParams))]
) -> Response:
    """Certified products with an active certificate: filter, search, sort, page with a cursor."""
    query = CatalogueQuery(
        stars=tuple(sorted(set(params.star or ()))), min_star=params.min_star, product_set=params.product_set,
        group=params.group, province=params.province, commune=params.commune, entity_type=params.entity_type,
        is_national=params.is_national,
    )  # fmt: skip
    page = await service.search(
        pool, query, q=params.q, sort=params.sort, cursor=params.cursor, limit=params.limit
    )
    return _json(page)


@router.get(
    "/{product_id}", response_model=CatalogueProduct, responses=problems(401, 404),
    dependencies=[Depends(get_principal)],
)  # fmt: skip
async def catalogue_read(product_id: uuid.UUID, pool: ReadPoolDep) -> Response:
    """The public record of one product in the catalogue."""
    return _json(await service.get_public_product(pool, product_id))


RECORD_PREFIX = "/v1/catalogue/"
_CANONICAL_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


async def answer_public_record(request: Request) -> Response | None:
    """``catalogue_read`` for the fast path (shared/fastpath.py), or None where the route must answer.

    Only an anonymous read of a canonical id is taken: a token still goes through ``get_principal``,
    and any other id through FastAPI's validation, so every answer stays the route's own.
    """
    product_id = request.scope["path"][len(RECORD_PREFIX) :]
    if not _CANONICAL_ID.fullmatch(product_id) or "authorization" in request.headers:
        return None
    return await catalogue_read(uuid.UUID(product_id), await get_read_pool(request))
