"""HTTP routes of /v1/councils and /v1/rounds."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from services.scoring.councils import service
from services.scoring.councils.schemas import (
    CouncilCreate,
    CouncilRead,
    CouncilUpdate,
    MemberCreate,
    MemberRead,
    RecordedLevel,
    RoundCreate,
    RoundRead,
    RoundStatus,
)  # fmt: skip
from services.scoring.dependencies import IdempotencyDep
from shared.db import SessionDep
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from shared.schemas import Page, page_of, problems
from shared.security.dependencies import PrincipalDep

councils_router = APIRouter(prefix="/v1/councils", tags=["councils"])
rounds_router = APIRouter(prefix="/v1/rounds", tags=["rounds"])


@councils_router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=CouncilRead, responses=problems(401, 403)
)
async def councils_create(
    body: CouncilCreate, session: SessionDep, principal: PrincipalDep, response: Response,
    idempotency: IdempotencyDep,
) -> CouncilRead | Response:  # fmt: skip
    """Set up a council: a province's (its officers, admins) or the central one (admins)."""

    async def create() -> CouncilRead:
        return CouncilRead.model_validate(
            await service.create_council(session, principal=principal, data=body)
        )

    return await idempotency.create(response, create, location=lambda council: f"/v1/councils/{council.id}")


@councils_router.get("", response_model=Page[CouncilRead], responses=problems(401))
async def councils_list(
    session: SessionDep,
    principal: PrincipalDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    level: RecordedLevel | None = None,
    province_code: Annotated[str | None, Query(pattern=r"^\d{2}$")] = None,
) -> Page[CouncilRead]:
    """The councils the caller may see: a province's for its officers, their own for members, all for admins."""
    page = await service.list_councils(
        session, principal=principal, level=level, province_code=province_code, limit=limit, cursor=cursor
    )
    return page_of(CouncilRead, page)


@councils_router.get("/{council_id}", response_model=CouncilRead, responses=problems(401, 404))
async def councils_read(council_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> CouncilRead:
    """One council and its scoring rules."""
    return CouncilRead.model_validate(
        await service.get_council(session, principal=principal, council_id=council_id)
    )


@councils_router.patch("/{council_id}", response_model=CouncilRead, responses=problems(401, 403, 404))
async def councils_update(
    council_id: uuid.UUID, body: CouncilUpdate, session: SessionDep, principal: PrincipalDep
) -> CouncilRead:
    """Change a council's name, quorum, spread or activity (those who manage it)."""
    return CouncilRead.model_validate(
        await service.update_council(session, principal=principal, council_id=council_id, data=body)
    )


@councils_router.post(
    "/{council_id}/members", status_code=status.HTTP_201_CREATED, response_model=MemberRead,
    responses=problems(401, 403, 404, 409),
)  # fmt: skip
async def councils_add_member(
    council_id: uuid.UUID, body: MemberCreate, session: SessionDep, principal: PrincipalDep, response: Response,
    idempotency: IdempotencyDep,
) -> MemberRead | Response:  # fmt: skip
    """Seat a person (the subject of their council_member principal) on the council; one chair."""

    async def add() -> MemberRead:
        return MemberRead.model_validate(
            await service.add_member(session, principal=principal, council_id=council_id, data=body)
        )

    return await idempotency.create(response, add, location=lambda _: f"/v1/councils/{council_id}/members")


@councils_router.get("/{council_id}/members", response_model=list[MemberRead], responses=problems(401, 404))
async def councils_members(
    council_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> list[MemberRead]:
    """The council's members, chair first."""
    members = await service.list_members(session, principal=principal, council_id=council_id)
    return [MemberRead.model_validate(member) for member in members]


@rounds_router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=RoundRead, responses=problems(401, 403, 404, 409)
)
async def rounds_create(
    body: RoundCreate, session: SessionDep, principal: PrincipalDep, response: Response,
    idempotency: IdempotencyDep,
) -> RoundRead | Response:  # fmt: skip
    """Open a scoring round for a council (those who manage the council)."""

    async def create() -> RoundRead:
        return RoundRead.model_validate(await service.create_round(session, principal=principal, data=body))

    return await idempotency.create(response, create, location=lambda round_: f"/v1/rounds/{round_.id}")


@rounds_router.get("", response_model=Page[RoundRead], responses=problems(401))
async def rounds_list(
    session: SessionDep,
    principal: PrincipalDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    council_id: uuid.UUID | None = None,
    status: RoundStatus | None = None,
) -> Page[RoundRead]:
    """The rounds the caller may see."""
    page = await service.list_rounds(
        session, principal=principal, council_id=council_id, status=status, limit=limit, cursor=cursor
    )
    return page_of(RoundRead, page)


@rounds_router.get("/{round_id}", response_model=RoundRead, responses=problems(401, 404))
async def rounds_read(round_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> RoundRead:
    """One round."""
    return RoundRead.model_validate(await service.get_round(session, principal=principal, round_id=round_id))


@rounds_router.post("/{round_id}/close", response_model=RoundRead, responses=problems(401, 403, 404, 409))
async def rounds_close(round_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> RoundRead:
    """Close the round: nothing more is assigned to it or scored in it."""
    return RoundRead.model_validate(
        await service.close_round(session, principal=principal, round_id=round_id)
    )
