"""HTTP routes of /v1/locations (producers' sites) and /loc/{id} (the platform's location URIs, public)."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import StringConstraints

from services.stamps.config import StampsSettings
from services.stamps.dependencies import IdempotencyDep
from services.stamps.locations import service
from services.stamps.locations.schemas import (
    LocationCreate,
    LocationFilter,
    LocationKind,
    LocationRead,
    LocationUpdate,
    PlaceRead,
)
from shared.db import SessionDep
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from shared.schemas import Page, page_of, problems
from shared.security.dependencies import PrincipalDep

router = APIRouter(tags=["locations"])
ProvinceQuery = Annotated[str | None, Query(pattern=r"^[0-9]{2}$", description="Province code (2 digits)")]
# The most URIs one public look-up names, and the longest: the whole query, percent-encoded, stays well
# inside the 32 kB a request line and headers may take (shared/server.py); a longer one never reaches us.
MAX_URIS = 40
UriQuery = Annotated[
    list[Annotated[str, StringConstraints(min_length=1, max_length=200)]],
    Query(min_length=1, max_length=MAX_URIS, description="Location URIs (SGLN, Digital Link or ours)"),
]
# Sites change rarely; a trace page may keep their names a few minutes.
PUBLIC_CACHE = {"Cache-Control": "public, max-age=300"}


@router.post(
    "/v1/locations", status_code=status.HTTP_201_CREATED, response_model=LocationRead,
    responses=problems(401, 403, 409),
)  # fmt: skip
async def locations_create(
    body: LocationCreate, session: SessionDep, principal: PrincipalDep, request: Request, response: Response,
    idempotency: IdempotencyDep,
) -> LocationRead | Response:  # fmt: skip
    """Register one of the caller's sites (a producer, or an admin naming the producer); retry with Idempotency-Key."""
    settings: StampsSettings = request.app.state.settings

    async def create() -> LocationRead:
        return LocationRead.model_validate(await service.register_location(
            session, principal=principal, data=body, resolver_host=settings.resolver_host
        ))  # fmt: skip

    return await idempotency.create(response, create, location=lambda site: f"/v1/locations/{site.id}")


@router.get("/v1/locations", response_model=Page[LocationRead], responses=problems(401))
async def locations_list(
    session: SessionDep, principal: PrincipalDep, limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None,
    kind: LocationKind | None = None, province_code: ProvinceQuery = None, entity_id: uuid.UUID | None = None,
) -> Page[LocationRead]:  # fmt: skip
    """The sites the caller may see (a producer its own, an officer its unit's, admins and national all), by name."""
    where = LocationFilter(kind=kind, province_code=province_code, entity_id=entity_id)
    page = await service.list_locations(session, principal=principal, where=where, limit=limit, cursor=cursor)
    return page_of(LocationRead, page)


@router.get("/v1/locations/places", response_model=dict[str, PlaceRead])
async def locations_places(session: SessionDep, response: Response, uri: UriQuery) -> dict[str, PlaceRead]:
    """Public: the name and place of each registered site the URIs name (any form of its GLN too); others left out."""
    places = await service.describe(session, uris=uri)
    response.headers.update(PUBLIC_CACHE)
    return {given: PlaceRead.model_validate(asdict(place)) for given, place in places.items()}


@router.get("/v1/locations/{location_id}", response_model=LocationRead, responses=problems(401, 404))
async def locations_read(
    location_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> LocationRead:
    """One site."""
    return LocationRead.model_validate(
        await service.get_location(session, principal=principal, location_id=location_id)
    )


@router.patch("/v1/locations/{location_id}", response_model=LocationRead, responses=problems(401, 403, 404))
async def locations_update(
    location_id: uuid.UUID, body: LocationUpdate, session: SessionDep, principal: PrincipalDep
) -> LocationRead:
    """Change a site's name, kind, address or place (its producer or an admin); its URI and GLN never change."""
    return LocationRead.model_validate(
        await service.update_location(session, principal=principal, location_id=location_id, data=body)
    )


@router.get("/loc/{location_id}", response_model=PlaceRead, responses=problems(404))
async def location_place(location_id: uuid.UUID, session: SessionDep, response: Response) -> PlaceRead:
    """Public: what a platform location URI (``https://{resolver}/loc/{id}``) names: the site's name and place."""
    place = await service.public_place(session, location_id=location_id)
    response.headers.update(PUBLIC_CACHE)
    return PlaceRead.model_validate(asdict(place))
