"""HTTP routes of /v1/applications: dossiers, their checks, rounds, attachments, scorecards and results."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Path, Response, UploadFile, status

from services.scoring.applications import service
from services.scoring.applications.schemas import (
    ApplicationCreate,
    ApplicationRead,
    Assignment,
    AttachmentKind,
    AttachmentRead,
    ChoicesIn,
    CompletenessDecision,
    PrecheckDecision,
    ResultRead,
    ScorecardRead,
    SelfAssessmentRead,
    SnapshotRead,
    Status,
)  # fmt: skip
from services.scoring.dependencies import IdempotencyDep, RegistryDep
from shared.db import SessionDep
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from shared.schemas import Page, page_of, problems
from shared.security.dependencies import PrincipalDep

router = APIRouter(prefix="/v1/applications", tags=["applications"])

Sha256 = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]
# Steps whose precondition is the dossier's state answer 409 naming it.
STEP_PROBLEMS = problems(401, 403, 404, 409)


def _read(application: object) -> ApplicationRead:
    return ApplicationRead.model_validate(application)


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=ApplicationRead,
    responses=problems(401, 403, 404, 409) | {503: {"description": "The registry is unavailable (Retry-After)"}},
)  # fmt: skip
async def applications_create(
    body: ApplicationCreate, session: SessionDep, principal: PrincipalDep, registry: RegistryDep,
    response: Response, idempotency: IdempotencyDep,
) -> ApplicationRead | Response:  # fmt: skip
    """Open a draft dossier for a registry product (its producer, officers of its unit, admins)."""

    async def create() -> ApplicationRead:
        return _read(
            await service.create_application(session, principal=principal, registry=registry, data=body)
        )

    return await idempotency.create(
        response, create, location=lambda created: f"/v1/applications/{created.id}"
    )


@router.get("", response_model=Page[ApplicationRead], responses=problems(401))
async def applications_list(
    session: SessionDep,
    principal: PrincipalDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    status: Status | None = None,
    product_id: uuid.UUID | None = None,
    round_id: uuid.UUID | None = None,
) -> Page[ApplicationRead]:
    """The dossiers the caller may see, newest first."""
    page = await service.list_applications(
        session, principal=principal, limit=limit, cursor=cursor, status=status, product_id=product_id,
        round_id=round_id,
    )  # fmt: skip
    return page_of(ApplicationRead, page)


@router.get("/{application_id}", response_model=ApplicationRead, responses=problems(401, 404))
async def applications_read(
    application_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> ApplicationRead:
    """One dossier and where it stands."""
    return _read(await service.get_application(session, principal=principal, application_id=application_id))


@router.get("/{application_id}/snapshot", response_model=SnapshotRead, responses=problems(401, 404))
async def applications_snapshot(
    application_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> SnapshotRead:
    """The registry's product and entity as fetched at submission, with their SHA-256."""
    return SnapshotRead.model_validate(
        await service.get_snapshot(session, principal=principal, application_id=application_id)
    )


@router.post(
    "/{application_id}/submit", response_model=ApplicationRead,
    responses=STEP_PROBLEMS | {503: {"description": "The registry is unavailable (Retry-After); nothing changed"}},
)  # fmt: skip
async def applications_submit(
    application_id: uuid.UUID, session: SessionDep, principal: PrincipalDep, registry: RegistryDep
) -> ApplicationRead:
    """Hand the dossier in (or back in): snapshot the product and entity, pin the criteria and score sheet."""
    return _read(
        await service.submit(session, principal=principal, registry=registry, application_id=application_id)
    )


@router.post("/{application_id}/precheck", response_model=ApplicationRead, responses=STEP_PROBLEMS)
async def applications_precheck(
    application_id: uuid.UUID, body: PrecheckDecision, session: SessionDep, principal: PrincipalDep
) -> ApplicationRead:
    """The commune's pre-check: forward to the province, or return with a reason."""
    return _read(
        await service.precheck(
            session,
            principal=principal,
            application_id=application_id,
            decision=body.decision,
            reason=body.reason,
        )
    )


@router.post("/{application_id}/completeness", response_model=ApplicationRead, responses=STEP_PROBLEMS)
async def applications_completeness(
    application_id: uuid.UUID, body: CompletenessDecision, session: SessionDep, principal: PrincipalDep
) -> ApplicationRead:
    """The province's completeness check: eligible for a round, or returned with a reason."""
    return _read(
        await service.completeness(
            session,
            principal=principal,
            application_id=application_id,
            decision=body.decision,
            reason=body.reason,
        )
    )


@router.post("/{application_id}/assign", response_model=ApplicationRead, responses=STEP_PROBLEMS)
async def applications_assign(
    application_id: uuid.UUID, body: Assignment, session: SessionDep, principal: PrincipalDep
) -> ApplicationRead:
    """Assign an eligible dossier (or one whose round closed) to an open round of its province."""
    return _read(
        await service.assign(
            session, principal=principal, application_id=application_id, round_id=body.round_id
        )
    )


@router.post("/{application_id}/start-scoring", response_model=ApplicationRead, responses=STEP_PROBLEMS)
async def applications_start_scoring(
    application_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> ApplicationRead:
    """Open a scoring pass: the first in its round, or a new one after a rescore."""
    return _read(await service.start_scoring(session, principal=principal, application_id=application_id))


@router.post("/{application_id}/propose-central", response_model=ApplicationRead, responses=STEP_PROBLEMS)
async def applications_propose_central(
    application_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> ApplicationRead:
    """Propose a potential 5★ product to the central council."""
    return _read(await service.propose_central(session, principal=principal, application_id=application_id))


@router.post("/{application_id}/assign-central", response_model=ApplicationRead, responses=STEP_PROBLEMS)
async def applications_assign_central(
    application_id: uuid.UUID, body: Assignment, session: SessionDep, principal: PrincipalDep
) -> ApplicationRead:
    """Assign a proposed dossier to an open central round (admins)."""
    return _read(
        await service.assign_central(
            session, principal=principal, application_id=application_id, round_id=body.round_id
        )
    )


@router.post("/{application_id}/close-scoring", response_model=ApplicationRead, responses=STEP_PROBLEMS)
async def applications_close_scoring(
    application_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> ApplicationRead:
    """Decide the open pass with the cards in, when they make the council's quorum (absent members)."""
    return _read(await service.close_scoring(session, principal=principal, application_id=application_id))


@router.put(
    "/{application_id}/self-assessment", response_model=SelfAssessmentRead,
    responses=STEP_PROBLEMS | {503: {"description": "The registry is unavailable (Retry-After); nothing changed"}},
)  # fmt: skip
async def applications_self_assess(
    application_id: uuid.UUID,
    body: ChoicesIn,
    session: SessionDep,
    principal: PrincipalDep,
    registry: RegistryDep,
) -> SelfAssessmentRead:
    """The producer's self-assessment (Form 02): one option per criterion of the sheet a submission today
    pins (the dossier is pinned again; a refusal names the sheet's id)."""
    return SelfAssessmentRead.model_validate(
        await service.save_self_assessment(
            session,
            principal=principal,
            registry=registry,
            application_id=application_id,
            choices=body.choices,
        )
    )


@router.get(
    "/{application_id}/self-assessment", response_model=SelfAssessmentRead, responses=problems(401, 404)
)
async def applications_self_assessment(
    application_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> SelfAssessmentRead:
    """The dossier's self-assessment and the scores it gives."""
    return SelfAssessmentRead.model_validate(
        await service.get_self_assessment(session, principal=principal, application_id=application_id)
    )


@router.post(
    "/{application_id}/scorecards", status_code=status.HTTP_201_CREATED, response_model=ScorecardRead,
    responses=STEP_PROBLEMS,
)  # fmt: skip
async def applications_score(
    application_id: uuid.UUID, body: ChoicesIn, session: SessionDep, principal: PrincipalDep, response: Response,
    idempotency: IdempotencyDep,
) -> ScorecardRead | Response:  # fmt: skip
    """A council member's card for the open pass; the last expected card decides the pass."""

    async def score() -> ScorecardRead:
        return ScorecardRead.model_validate(
            await service.submit_scorecard(
                session, principal=principal, application_id=application_id, choices=body.choices
            )
        )

    return await idempotency.create(
        response, score, location=lambda _: f"/v1/applications/{application_id}/scorecards"
    )


@router.get(
    "/{application_id}/scorecards", response_model=list[ScorecardRead], responses=problems(401, 403, 404)
)
async def applications_scorecards(
    application_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> list[ScorecardRead]:
    """The cards: of closed passes, all of them; of the open pass, only the caller's own."""
    cards = await service.list_scorecards(session, principal=principal, application_id=application_id)
    return [ScorecardRead.model_validate(card) for card in cards]


@router.get("/{application_id}/results", response_model=list[ResultRead], responses=problems(401, 404))
async def applications_results(
    application_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> list[ResultRead]:
    """The council decisions on the dossier, by pass (also for the national client)."""
    results = await service.list_results(session, principal=principal, application_id=application_id)
    return [ResultRead.model_validate(result) for result in results]


@router.post(
    "/{application_id}/attachments", status_code=status.HTTP_201_CREATED, response_model=AttachmentRead,
    responses=problems(401, 403, 404, 409, 413, 415),
)  # fmt: skip
async def applications_attach(
    application_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    kind: Annotated[AttachmentKind, Form()],
    file: Annotated[
        UploadFile, File(description="A PDF document or a JPEG, PNG or WebP image, at most 10 MiB")
    ],
) -> AttachmentRead:
    """Attach a document to a draft or returned dossier; the same file is stored once.

    A retry is safe without an Idempotency-Key: the same file of the same kind is the same attachment.
    """
    data = await file.read(service.MAX_ATTACHMENT_BYTES + 1)
    filename = (file.filename or "").replace("\\", "/").rsplit("/", 1)[-1][:255] or "tai-lieu"
    return AttachmentRead.model_validate(
        await service.add_attachment(
            session,
            principal=principal,
            application_id=application_id,
            kind=kind,
            filename=filename,
            data=data,
        )
    )


@router.get(
    "/{application_id}/attachments", response_model=list[AttachmentRead], responses=problems(401, 404)
)
async def applications_attachments(
    application_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> list[AttachmentRead]:
    """The dossier's attachments."""
    attachments = await service.list_attachments(session, principal=principal, application_id=application_id)
    return [AttachmentRead.model_validate(attachment) for attachment in attachments]


@router.get(
    "/{application_id}/attachments/{sha256}", response_class=Response,
    responses=problems(401, 404) | {200: {"content": {"application/pdf": {}, "image/*": {}}}},
)  # fmt: skip
async def applications_attachment(
    application_id: uuid.UUID, sha256: Sha256, session: SessionDep, principal: PrincipalDep
) -> Response:
    """The attachment's bytes, as a download (never rendered in place)."""
    attachment, blob = await service.read_attachment(
        session, principal=principal, application_id=application_id, sha256=sha256
    )
    headers = {
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(attachment.filename)}",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=3600",
        "Vary": "Authorization",
        "ETag": f'"{blob.sha256}"',
    }
    return Response(blob.data, media_type=blob.content_type, headers=headers)
