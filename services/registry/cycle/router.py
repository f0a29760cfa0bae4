"""HTTP routes of /v1/ideas and /v1/business-plans: the OCOP cycle's idea and plan reviews."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from services.registry.cycle import service
from services.registry.cycle.schemas import (
    BusinessPlanCreate,
    BusinessPlanRead,
    BusinessPlanUpdate,
    IdeaCreate,
    IdeaRead,
    IdeaUpdate,
    ReturnDecision,
    ReviewStatus,
)  # fmt: skip
from services.registry.dependencies import IdempotencyDep
from shared.db import SessionDep
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from shared.schemas import Page, page_of, problems
from shared.security.dependencies import PrincipalDep

ideas_router = APIRouter(prefix="/v1/ideas", tags=["ocop-cycle"])
plans_router = APIRouter(prefix="/v1/business-plans", tags=["ocop-cycle"])

CommuneCodeQuery = Annotated[str | None, Query(pattern=r"^\d{5}$")]


@ideas_router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=IdeaRead, responses=problems(401, 403, 404, 409)
)
async def ideas_create(
    body: IdeaCreate,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    idempotency: IdempotencyDep,
) -> IdeaRead | Response:
    """Register a product idea (its producer or staff of its unit): the product and a draft idea."""

    async def register() -> IdeaRead:
        return IdeaRead.model_validate(await service.create_idea(session, principal=principal, data=body))

    return await idempotency.create(response, register, location=lambda idea: f"/v1/ideas/{idea.id}")


@ideas_router.get("", response_model=Page[IdeaRead], responses=problems(401))
async def ideas_list(
    session: SessionDep,
    principal: PrincipalDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    status: ReviewStatus | None = None,
    entity_id: uuid.UUID | None = None,
    commune_code: CommuneCodeQuery = None,
) -> Page[IdeaRead]:
    """The ideas the caller may see, newest first."""
    page = await service.list_ideas(
        session, principal=principal, limit=limit, cursor=cursor,
        filters={"status": status, "entity_id": entity_id, "commune_code": commune_code},
    )  # fmt: skip
    return page_of(IdeaRead, page)


@ideas_router.get("/{idea_id}", response_model=IdeaRead, responses=problems(401, 404))
async def ideas_read(idea_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> IdeaRead:
    """One idea registration and where it stands in review."""
    return IdeaRead.model_validate(await service.get_idea(session, principal=principal, idea_id=idea_id))


@ideas_router.patch("/{idea_id}", response_model=IdeaRead, responses=problems(401, 403, 404, 409))
async def ideas_update(
    idea_id: uuid.UUID, body: IdeaUpdate, session: SessionDep, principal: PrincipalDep
) -> IdeaRead:
    """Revise an idea while it is a draft or has been returned."""
    return IdeaRead.model_validate(
        await service.update_idea(session, principal=principal, idea_id=idea_id, data=body)
    )


@ideas_router.post("/{idea_id}/submit", response_model=IdeaRead, responses=problems(401, 403, 404, 409))
async def ideas_submit(idea_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> IdeaRead:
    """Hand a draft or returned idea in for review."""
    return IdeaRead.model_validate(await service.submit_idea(session, principal=principal, idea_id=idea_id))


@ideas_router.post("/{idea_id}/approve", response_model=IdeaRead, responses=problems(401, 403, 404, 409))
async def ideas_approve(idea_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> IdeaRead:
    """Approve a submitted idea (officers of its unit); the product moves to the business-plan step."""
    return IdeaRead.model_validate(await service.approve_idea(session, principal=principal, idea_id=idea_id))


@ideas_router.post("/{idea_id}/return", response_model=IdeaRead, responses=problems(401, 403, 404, 409))
async def ideas_return(
    idea_id: uuid.UUID, body: ReturnDecision, session: SessionDep, principal: PrincipalDep
) -> IdeaRead:
    """Return a submitted idea to its producer with the reason (officers of its unit)."""
    return IdeaRead.model_validate(
        await service.return_idea(session, principal=principal, idea_id=idea_id, reason=body.reason)
    )


@plans_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=BusinessPlanRead,
    responses=problems(401, 403, 404, 409),
)
async def business_plans_create(
    body: BusinessPlanCreate,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    idempotency: IdempotencyDep,
) -> BusinessPlanRead | Response:
    """Write the business plan of an approved idea (one per idea) as a draft."""

    async def write() -> BusinessPlanRead:
        return BusinessPlanRead.model_validate(
            await service.create_plan(session, principal=principal, data=body)
        )

    return await idempotency.create(response, write, location=lambda plan: f"/v1/business-plans/{plan.id}")


@plans_router.get("", response_model=Page[BusinessPlanRead], responses=problems(401))
async def business_plans_list(
    session: SessionDep,
    principal: PrincipalDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    status: ReviewStatus | None = None,
    entity_id: uuid.UUID | None = None,
    idea_id: uuid.UUID | None = None,
    commune_code: CommuneCodeQuery = None,
) -> Page[BusinessPlanRead]:
    """The business plans the caller may see, newest first."""
    page = await service.list_plans(
        session, principal=principal, limit=limit, cursor=cursor,
        filters={"status": status, "entity_id": entity_id, "idea_id": idea_id, "commune_code": commune_code},
    )  # fmt: skip
    return page_of(BusinessPlanRead, page)


@plans_router.get("/{plan_id}", response_model=BusinessPlanRead, responses=problems(401, 404))
async def business_plans_read(
    plan_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> BusinessPlanRead:
    """One business plan and where it stands in review."""
    return BusinessPlanRead.model_validate(
        await service.get_plan(session, principal=principal, plan_id=plan_id)
    )


@plans_router.patch("/{plan_id}", response_model=BusinessPlanRead, responses=problems(401, 403, 404, 409))
async def business_plans_update(
    plan_id: uuid.UUID, body: BusinessPlanUpdate, session: SessionDep, principal: PrincipalDep
) -> BusinessPlanRead:
    """Revise a business plan while it is a draft or has been returned."""
    return BusinessPlanRead.model_validate(
        await service.update_plan(session, principal=principal, plan_id=plan_id, data=body)
    )


@plans_router.post(
    "/{plan_id}/submit", response_model=BusinessPlanRead, responses=problems(401, 403, 404, 409)
)
async def business_plans_submit(
    plan_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> BusinessPlanRead:
    """Hand a draft or returned business plan in for review."""
    return BusinessPlanRead.model_validate(
        await service.submit_plan(session, principal=principal, plan_id=plan_id)
    )


@plans_router.post(
    "/{plan_id}/approve", response_model=BusinessPlanRead, responses=problems(401, 403, 404, 409)
)
async def business_plans_approve(
    plan_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> BusinessPlanRead:
    """Approve a submitted business plan (officers of its unit); the product moves to implementing."""
    return BusinessPlanRead.model_validate(
        await service.approve_plan(session, principal=principal, plan_id=plan_id)
    )


@plans_router.post(
    "/{plan_id}/return", response_model=BusinessPlanRead, responses=problems(401, 403, 404, 409)
)
async def business_plans_return(
    plan_id: uuid.UUID, body: ReturnDecision, session: SessionDep, principal: PrincipalDep
) -> BusinessPlanRead:
    """Return a submitted business plan to its producer with the reason (officers of its unit)."""
    return BusinessPlanRead.model_validate(
        await service.return_plan(session, principal=principal, plan_id=plan_id, reason=body.reason)
    )
