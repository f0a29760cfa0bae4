"""HTTP routes of /v1/stamps: the lifecycle operations, one stamp with its history, and listings."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Path, Request, Response, status
from fastapi.responses import JSONResponse

from services.stamps.dependencies import IdempotencyDep
from services.stamps.lifecycle import service
from services.stamps.lifecycle.schemas import (
    Action,
    ChangeProgress,
    StampChangeRead,
    StampChangeRequest,
    StampChangeStatusRead,
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
changes_router = APIRouter(prefix="/v1/stamp-changes", tags=["stamps"])
QUEUED: dict[int | str, dict[str, Any]] = {
    status.HTTP_202_ACCEPTED: {
        "model": StampChangeStatusRead,
        "description": "A whole batch above STAMPS_LIFECYCLE_SYNC_MAX stamps: queued for the background job; "
        "follow Location (GET /v1/stamp-changes/{id})",
    }
}


def _status(found: service.ChangeStatus) -> StampChangeStatusRead:
    change = found.change
    progress = ChangeProgress(
        done=found.done, total=found.total, rate_per_s=found.rate_per_s, eta_s=found.eta_s
    )
    fields = {
        name: getattr(change, name)
        for name in StampChangeStatusRead.model_fields
        if name not in ("progress", "unchanged", "skipped", "by_state")
    }
    return StampChangeStatusRead.model_validate(
        {**fields, "progress": progress, "unchanged": found.unchanged, "skipped": found.skipped,
         "by_state": found.by_state}
    )  # fmt: skip


def _wake_jobs(request: Request) -> None:
    """Start the queued change as soon as it has committed (background tasks run after it)."""
    jobs = getattr(request.app.state, "lifecycle_jobs", None)
    if jobs is not None:
        jobs.wake()


@router.post(
    "/{action}", response_model=StampChangeRead, responses={**QUEUED, **problems(401, 403, 404, 409)}
)
async def stamps_change(
    action: Action, body: StampChangeRequest, session: SessionDep, principal: PrincipalDep,
    idempotency: IdempotencyDep, request: Request, background: BackgroundTasks,
) -> StampChangeRead | Response:  # fmt: skip
    """Issue, activate, suspend, unsuspend, revoke or void stamps (a list of serials or a batch); retry with Idempotency-Key.

    A list, or a batch of at most STAMPS_LIFECYCLE_SYNC_MAX stamps, is changed now (200). A larger batch is
    queued (202 + Location of the change, whose progress GET /v1/stamp-changes/{id} reads).
    """
    if (replayed := await idempotency.replay()) is not None:
        return replayed
    settings = request.app.state.settings
    result = await service.change_states(
        session, principal=principal, action=action, data=body, today=clock.today(),
        resolver_host=settings.resolver_host, sync_max=settings.lifecycle_sync_max,
    )  # fmt: skip
    if isinstance(result, service.ChangeStatus):
        queued = _status(result).model_dump(mode="json")
        location = f"/v1/stamp-changes/{result.change.id}"
        await idempotency.store(status.HTTP_202_ACCEPTED, queued, {"Location": location})
        background.add_task(_wake_jobs, request)
        return JSONResponse(queued, status_code=status.HTTP_202_ACCEPTED, headers={"Location": location})
    answer = StampChangeRead.model_validate(result)
    await idempotency.store(200, answer)
    return answer


@changes_router.get("/{change_id}", response_model=StampChangeStatusRead, responses=problems(401, 404))
async def stamp_changes_read(
    session: SessionDep, principal: PrincipalDep,
    change_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="The change's id (change_id of its answer)")],
) -> StampChangeStatusRead:  # fmt: skip
    """One lifecycle change as it stands: status (queued, running, done, failed), progress and counts."""
    return _status(await service.get_change(session, principal=principal, change_id=change_id))


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
