"""HTTP routes of /v1/stamp-batches."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, BackgroundTasks, Request, Response, status

from services.stamps.batches import service
from services.stamps.batches.schemas import BatchCreate, BatchDecision, BatchRead, BatchStatus, Progress
from services.stamps.config import StampsSettings
from services.stamps.dependencies import IdempotencyDep
from shared import clock
from shared.db import SessionDep
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from shared.schemas import Page, problems
from shared.security.dependencies import PrincipalDep

router = APIRouter(prefix="/v1/stamp-batches", tags=["stamp batches"])


def _read(found: service.BatchProgress) -> BatchRead:
    progress = Progress(done=found.done, total=found.total, rate_per_s=found.rate_per_s, eta_s=found.eta_s)
    fields = {name: getattr(found.batch, name) for name in BatchRead.model_fields if name != "progress"}
    return BatchRead.model_validate({**fields, "progress": progress})


def _wake_jobs(request: Request) -> None:
    """Start generating as soon as the approval has committed (background tasks run after it)."""
    jobs = getattr(request.app.state, "batch_jobs", None)
    if jobs is not None:
        jobs.wake()


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=BatchRead, responses=problems(401, 403, 404, 409)
)
async def stamp_batches_request(
    body: BatchCreate, session: SessionDep, principal: PrincipalDep, request: Request, response: Response,
    idempotency: IdempotencyDep,
) -> BatchRead | Response:  # fmt: skip
    """Request N stamps of one of the caller's products while its OCOP certificate is in force; retry with Idempotency-Key."""
    settings: StampsSettings = request.app.state.settings

    async def create() -> BatchRead:
        return _read(await service.request_batch(
            session, principal=principal, data=body, max_batch=settings.max_batch, today=clock.today()
        ))  # fmt: skip

    return await idempotency.create(response, create, location=lambda batch: f"/v1/stamp-batches/{batch.id}")


@router.get("", response_model=Page[BatchRead], responses=problems(401))
async def stamp_batches_list(
    session: SessionDep, principal: PrincipalDep, limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None,
    status: BatchStatus | None = None, product_id: uuid.UUID | None = None,
) -> Page[BatchRead]:  # fmt: skip
    """The batches the caller may see (a producer its own, an officer its unit's), newest first."""
    page = await service.list_batches(
        session, principal=principal, status=status, product_id=product_id, limit=limit, cursor=cursor
    )
    return Page[BatchRead](items=[_read(item) for item in page.items], next_cursor=page.next_cursor)


@router.get("/{batch_id}", response_model=BatchRead, responses=problems(401, 404))
async def stamp_batches_read(batch_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> BatchRead:
    """One batch with its generation's progress (done, total, rate, time left)."""
    return _read(await service.get_batch(session, principal=principal, batch_id=batch_id))


@router.post("/{batch_id}/approve", response_model=BatchRead, responses=problems(401, 403, 404, 409))
async def stamp_batches_approve(
    batch_id: uuid.UUID, session: SessionDep, principal: PrincipalDep, request: Request,
    background: BackgroundTasks,
) -> BatchRead:  # fmt: skip
    """Approve a requested batch (an officer of its province): its stamps are generated in the background."""
    approved = await service.decide(
        session, principal=principal, batch_id=batch_id, approve=True, reason=None
    )
    background.add_task(_wake_jobs, request)
    return _read(approved)


@router.post("/{batch_id}/reject", response_model=BatchRead, responses=problems(401, 403, 404, 409))
async def stamp_batches_reject(
    batch_id: uuid.UUID, body: BatchDecision, session: SessionDep, principal: PrincipalDep
) -> BatchRead:
    """Reject a requested batch with a reason (an officer of its province)."""
    return _read(
        await service.decide(
            session, principal=principal, batch_id=batch_id, approve=False, reason=body.reason
        )
    )
