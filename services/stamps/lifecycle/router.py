"""HTTP routes of /v1/stamps: the lifecycle operations, one stamp with its history, and listings."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response

from services.stamps.dependencies import IdempotencyDep
from services.stamps.lifecycle import service
from services.stamps.lifecycle.schemas import (
    Action,
    StampChangeRead,
    StampChangeRequest,
    StampDetailRead,
    StampHistoryRead,
    StampRead,
    StampState,
)
from shared import clock
from shared.db import SessionDep
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from shared.schemas import Page, page_of, problems
from shared.security.dependencies import PrincipalDep

router = APIRouter(prefix="/v1/stamps", tags=["stamps"])


@router.post("/{action}", response_model=StampChangeRead, responses=problems(401, 403, 404, 409))
async def stamps_change(
    action: Action, body: StampChangeRequest, session: SessionDep, principal: PrincipalDep,
    idempotency: IdempotencyDep, request: Request,
) -> StampChangeRead | Response:  # fmt: skip
    """Issue, activate, suspend, unsuspend, revoke or void stamps (a list of serials or a batch); retry with Idempotency-Key."""
    if (replayed := await idempotency.replay()) is not None:
        return replayed
    result = await service.change_states(
        session, principal=principal, action=action, data=body, today=clock.today(),
        resolver_host=request.app.state.settings.resolver_host,
    )  # fmt: skip
    answer = StampChangeRead.model_validate(result)
    await idempotency.store(200, answer)
    return answer


@router.get("", response_model=Page[StampRead], responses=problems(401))
async def stamps_list(
    session: SessionDep, principal: PrincipalDep, limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None,
    batch_id: uuid.UUID | None = None, state: StampState | None = None,
) -> Page[StampRead]:  # fmt: skip
    """The stamps the caller may see (a producer its own, an officer its province's), in serial order."""
    page = await service.list_stamps(
        session, principal=principal, batch_id=batch_id, state=state, limit=limit, cursor=cursor
    )
    return page_of(StampRead, page)


@router.get("/{serial}", response_model=StampDetailRead, responses=problems(401, 404))
async def stamps_read(serial: str, session: SessionDep, principal: PrincipalDep) -> StampDetailRead:
    """One stamp: its state, batch, product, lot and dates, and the operations that moved it."""
    found = await service.get_stamp(session, principal=principal, serial=serial)
    fields: dict[str, Any] = StampRead.model_validate(found.stamp).model_dump()
    history = [StampHistoryRead.model_validate(row) for row in found.history]
    return StampDetailRead(**fields, history=history)
