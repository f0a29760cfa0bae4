"""HTTP routes of change requests: /v1/{products,entities}/{id}/change-requests and /v1/change-requests."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from services.registry.changes import service
from services.registry.changes.schemas import (
    ChangeRequestRead,
    ChangeState,
    EntityIdentityChange,
    ProductIdentityChange,
    Rejection,
)  # fmt: skip
from shared.db import SessionDep
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from shared.schemas import Page, page_of, problems
from shared.security.dependencies import PrincipalDep

router = APIRouter(tags=["change-requests"])


@router.post(
    "/v1/products/{product_id}/change-requests", status_code=status.HTTP_201_CREATED,
    response_model=ChangeRequestRead, responses=problems(401, 403, 404),
)  # fmt: skip
async def products_request_change(
    product_id: uuid.UUID, body: ProductIdentityChange, session: SessionDep, principal: PrincipalDep
) -> ChangeRequestRead:
    """Ask an officer to change a product's name, product set, classification or GTIN."""
    request = await service.request_product_change(
        session, principal=principal, product_id=product_id, data=body
    )
    return ChangeRequestRead.model_validate(request)


@router.post(
    "/v1/entities/{entity_id}/change-requests", status_code=status.HTTP_201_CREATED,
    response_model=ChangeRequestRead, responses=problems(401, 403, 404),
)  # fmt: skip
async def entities_request_change(
    entity_id: uuid.UUID, body: EntityIdentityChange, session: SessionDep, principal: PrincipalDep
) -> ChangeRequestRead:
    """Ask an officer to change an entity's legal name or tax code."""
    request = await service.request_entity_change(
        session, principal=principal, entity_id=entity_id, data=body
    )
    return ChangeRequestRead.model_validate(request)


@router.get("/v1/change-requests", response_model=Page[ChangeRequestRead], responses=problems(401))
async def change_requests_list(
    session: SessionDep,
    principal: PrincipalDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    status: ChangeState | None = None,
    resource_id: uuid.UUID | None = None,
) -> Page[ChangeRequestRead]:
    """The change requests the caller may see (its own for a producer, its unit's for an officer)."""
    page = await service.list_requests(
        session, principal=principal, status=status, resource_id=resource_id, limit=limit, cursor=cursor
    )
    return page_of(ChangeRequestRead, page)


@router.get(
    "/v1/change-requests/{request_id}", response_model=ChangeRequestRead, responses=problems(401, 404)
)
async def change_requests_read(
    request_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> ChangeRequestRead:
    """One change request."""
    return ChangeRequestRead.model_validate(
        await service.get_request(session, principal=principal, request_id=request_id)
    )


@router.post(
    "/v1/change-requests/{request_id}/approve", response_model=ChangeRequestRead,
    responses=problems(401, 403, 404, 409),
)  # fmt: skip
async def change_requests_approve(
    request_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> ChangeRequestRead:
    """Approve a pending request: the record changes as asked (officers of its unit)."""
    return ChangeRequestRead.model_validate(
        await service.approve(session, principal=principal, request_id=request_id)
    )


@router.post(
    "/v1/change-requests/{request_id}/reject", response_model=ChangeRequestRead,
    responses=problems(401, 403, 404, 409),
)  # fmt: skip
async def change_requests_reject(
    request_id: uuid.UUID, body: Rejection, session: SessionDep, principal: PrincipalDep
) -> ChangeRequestRead:
    """Turn a pending request down, with the reason (officers of its unit)."""
    return ChangeRequestRead.model_validate(
        await service.reject(session, principal=principal, request_id=request_id, reason=body.reason)
    )
