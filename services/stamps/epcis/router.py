"""HTTP routes of /epcis: capture of EPCIS 2.0 documents (asynchronous) and single events (synchronous)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, Header, Request, Response, status

from services.stamps.config import StampsSettings
from services.stamps.dependencies import IdempotencyDep
from services.stamps.epcis import service
from services.stamps.epcis.schemas import CaptureJobPage, CaptureJobRead, EventCaptured
from shared.db import SessionDep
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from shared.schemas import problems
from shared.security.dependencies import PrincipalDep

router = APIRouter(prefix="/epcis", tags=["epcis"])

# The body is read as bytes and checked against GS1's schema by the service (size, JSON, schema, vocabulary).
_JSON_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            media: {"schema": {"type": "object", "description": "EPCIS 2.0 JSON / JSON-LD (GS1's schema)"}}
            for media in ("application/ld+json", "application/json")
        },
    }
}
ErrorBehaviour = Annotated[
    str,
    Header(
        alias="GS1-Capture-Error-Behaviour",
        description="rollback (default): all or nothing; proceed: the valid events are stored, the errors listed",
    ),
]


def _settings(request: Request) -> StampsSettings:
    settings: StampsSettings = request.app.state.settings
    return settings


async def _wake_runner(request: Request) -> None:
    """Store the document as soon as the job has committed (background tasks run after it; async: on the
    event loop, not in a worker thread)."""
    runner = getattr(request.app.state, "epcis_capture", None)
    if runner is not None:
        runner.wake()


@router.post(
    "/capture", status_code=status.HTTP_202_ACCEPTED, response_model=CaptureJobRead,
    responses=problems(400, 401, 403, 413), openapi_extra=_JSON_BODY,
)  # fmt: skip
async def epcis_capture(
    request: Request, session: SessionDep, principal: PrincipalDep, response: Response,
    idempotency: IdempotencyDep, background: BackgroundTasks, error_behaviour: ErrorBehaviour = "rollback",
) -> CaptureJobRead | Response:  # fmt: skip
    """Capture an EPCISDocument: checked now (400/403/413), stored by a capture job (202 + Location)."""
    if (replayed := await idempotency.replay()) is not None:
        return replayed
    job = await service.capture_document(
        session, principal=principal, body=await request.body(), error_behaviour=error_behaviour.lower(),
        limits=_settings(request).epcis,
    )  # fmt: skip
    answer = CaptureJobRead.of(job)
    location = f"/epcis/capture/{job.id}"
    response.headers["Location"] = location
    await idempotency.store(
        status.HTTP_202_ACCEPTED, answer.model_dump(mode="json", by_alias=True), {"Location": location}
    )
    background.add_task(_wake_runner, request)
    return answer


@router.get("/capture", response_model=CaptureJobPage, responses=problems(401))
async def epcis_capture_jobs(
    session: SessionDep,
    principal: PrincipalDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> CaptureJobPage:
    """The capture jobs the caller started (admins: all), newest first."""
    page = await service.list_capture_jobs(session, principal=principal, limit=limit, cursor=cursor)
    return CaptureJobPage(items=[CaptureJobRead.of(job) for job in page.items], next_cursor=page.next_cursor)


@router.get("/capture/{capture_id}", response_model=CaptureJobRead, responses=problems(401, 404))
async def epcis_capture_job(
    capture_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> CaptureJobRead:
    """A capture job the caller started: running, or finished with success or failure and its errors."""
    return CaptureJobRead.of(await service.get_capture_job(session, principal=principal, job_id=capture_id))


@router.post(
    "/events", status_code=status.HTTP_201_CREATED, response_model=EventCaptured,
    responses=problems(400, 401, 403, 413), openapi_extra=_JSON_BODY,
)  # fmt: skip
async def epcis_events_capture(
    request: Request, session: SessionDep, principal: PrincipalDep, response: Response,
    idempotency: IdempotencyDep,
) -> EventCaptured | Response:  # fmt: skip
    """Capture one event now (201 + Location); the same eventID again is stored once (201 again, stored false)."""

    async def capture() -> EventCaptured:
        outcome = await service.capture_event(
            session, principal=principal, body=await request.body(), limits=_settings(request).epcis
        )
        return EventCaptured.model_validate({"eventID": outcome.event_id, "stored": outcome.stored})

    return await idempotency.create(
        response, capture, location=lambda captured: f"/epcis/events/{quote(captured.event_id, safe='')}"
    )


# Discovery (the REST binding's OPTIONS): which versions and formats this interface speaks, and, where
# events are captured, its limits. Public: nothing in it is the caller's, and a browser's CORS preflight
# carries no token.
GS1_DISCOVERY = {
    "GS1-EPCIS-Version": "2.0.0", "GS1-EPCIS-Min": "2.0.0", "GS1-EPCIS-Max": "2.0.0",
    "GS1-CBV-Version": "2.0.0", "GS1-CBV-Min": "2.0.0", "GS1-CBV-Max": "2.0.0",
    # Events are answered as they were captured: an EPC keeps the form (URN or Digital Link) it came in.
    "GS1-EPC-Format": "Never_Translates",
}  # fmt: skip


def _discovery(allow: str, capture: StampsSettings | None = None) -> Response:
    headers = {"Allow": allow, **GS1_DISCOVERY}
    if capture is not None:
        headers |= service.capture_limit_headers(capture.epcis) | {"GS1-Capture-Error-Behaviour": "all"}
    return Response(status_code=status.HTTP_204_NO_CONTENT, headers=headers)


_DISCOVERED: dict[int | str, dict[str, Any]] = {204: {"description": "Allow and the GS1-* discovery headers"}}


@router.options("/capture", status_code=204, response_class=Response, responses=_DISCOVERED)
async def epcis_capture_discovery(request: Request) -> Response:
    """The capture interface's settings: versions, capture limits (events, bytes), error behaviours."""
    return _discovery("OPTIONS, POST, GET", _settings(request))


@router.options("/capture/{capture_id}", status_code=204, response_class=Response, responses=_DISCOVERED)
async def epcis_capture_job_discovery(capture_id: uuid.UUID) -> Response:  # noqa: ARG001 - documented
    """A capture job's resource: versions, and the methods it answers."""
    return _discovery("OPTIONS, GET")


@router.options("/events", status_code=204, response_class=Response, responses=_DISCOVERED)
async def epcis_events_discovery(request: Request) -> Response:
    """The events resource: versions, the methods (query, capture one event) and the capture limits."""
    return _discovery("OPTIONS, GET, POST", _settings(request))


@router.options("/events/{event_id:path}", status_code=204, response_class=Response, responses=_DISCOVERED)
async def epcis_event_discovery(event_id: str) -> Response:  # noqa: ARG001 - documented
    """One event's resource: versions, and the methods it answers."""
    return _discovery("OPTIONS, GET")
