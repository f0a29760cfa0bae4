"""HTTP routes of /v1/entities."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from services.registry.dependencies import IdempotencyDep
from services.registry.entities import service
from services.registry.entities.schemas import EntityCreate, EntityRead, EntityType, EntityUpdate
from services.registry.files import downloads
from services.registry.files.columns import ENTITIES
from shared.db import SessionDep
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from shared.schemas import Page, page_of, problems
from shared.security.dependencies import PrincipalDep

router = APIRouter(prefix="/v1/entities", tags=["entities"])


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=EntityRead,
    responses=problems(401, 403, 409),
)  # fmt: skip
async def entities_create(
    body: EntityCreate,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    idempotency: IdempotencyDep,
) -> EntityRead | Response:
    """Register an OCOP entity (officers of its commune or province, admins); retry with Idempotency-Key."""

    async def register() -> EntityRead:
        return EntityRead.model_validate(
            await service.register_entity(session, principal=principal, data=body)
        )

    return await idempotency.create(response, register, location=lambda entity: f"/v1/entities/{entity.id}")


@router.get("", response_model=Page[EntityRead], responses=problems(401))
async def entities_list(
    session: SessionDep,
    principal: PrincipalDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    entity_type: EntityType | None = None,
    commune_code: Annotated[str | None, Query(pattern=r"^\d{5}$")] = None,
    province_code: Annotated[str | None, Query(pattern=r"^\d{2}$")] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Name, with or without diacritics")
    ] = None,
) -> Page[EntityRead]:
    """The entities the caller may see (their own for a producer, their unit's for an officer)."""
    page = await service.list_entities(
        session, principal=principal, limit=limit, cursor=cursor, entity_type=entity_type,
        commune_code=commune_code, province_code=province_code, q=q,
    )  # fmt: skip
    return page_of(EntityRead, page)


# Before the /{id} routes, so "export" is never read as an id.
@router.get("/export", response_class=Response, responses=problems(401, 403) | downloads.EXPORT_RESPONSES)
async def entities_export(
    request: Request, session: SessionDep, principal: PrincipalDep, file_format: downloads.FormatQuery = "csv"
) -> Response:
    """The entities the caller may see, as a file that imports back unchanged (staff)."""
    exported = await service.export(
        session, database=request.app.state.db, principal=principal, file_format=file_format
    )
    return downloads.download(ENTITIES, exported)


@router.get("/{entity_id}", response_model=EntityRead, responses=problems(401, 404))
async def entities_read(entity_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> EntityRead:
    """One entity."""
    return EntityRead.model_validate(
        await service.get_entity(session, principal=principal, entity_id=entity_id)
    )


@router.patch(
    "/{entity_id}", response_model=EntityRead,
    responses=problems(401, 403, 404, 409),
)  # fmt: skip
async def entities_update(
    entity_id: uuid.UUID, body: EntityUpdate, session: SessionDep, principal: PrincipalDep
) -> EntityRead:
    """Change an entity (its producer, officers of its unit, admins)."""
    return EntityRead.model_validate(
        await service.update_entity(session, principal=principal, entity_id=entity_id, data=body)
    )
