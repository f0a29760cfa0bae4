"""HTTP routes of /v1/certificates."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from services.scoring.certificates import service
from services.scoring.certificates.schemas import (
    CertificateIssue,
    CertificatePublic,
    CertificateRead,
    CertificateRevoke,
    CertificateStatus,
)
from services.scoring.dependencies import IdempotencyDep
from shared.db import SessionDep
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from shared.schemas import Page, page_of, problems
from shared.security.dependencies import PrincipalDep

router = APIRouter(prefix="/v1/certificates", tags=["certificates"])


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=CertificateRead,
    responses=problems(401, 403, 404, 409),
)  # fmt: skip
async def certificates_issue(
    body: CertificateIssue,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    idempotency: IdempotencyDep,
) -> CertificateRead | Response:
    """Issue the certificate of an application's recognised result (province officers; admins for 5★)."""

    async def issue() -> CertificateRead:
        certificate = await service.issue_certificate(
            session, principal=principal, application_id=body.application_id,
            decision_number=body.decision_number, issuing_authority=body.issuing_authority,
            issued_on=body.issued_on,
        )  # fmt: skip
        return CertificateRead.model_validate(certificate)

    return await idempotency.create(response, issue, location=lambda c: f"/v1/certificates/{c.id}")


@router.get("", response_model=Page[CertificateRead], responses=problems(401))
async def certificates_list(
    session: SessionDep,
    principal: PrincipalDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    product_id: uuid.UUID | None = None,
    status: CertificateStatus | None = None,
    star: Annotated[int | None, Query(ge=3, le=5)] = None,
) -> Page[CertificateRead]:
    """The certificates the caller may see (their own for a producer, their unit's for an officer), newest first."""
    page = await service.list_certificates(
        session, principal=principal, limit=limit, cursor=cursor,
        product_id=product_id, status=status, star=star,
    )  # fmt: skip
    return page_of(CertificateRead, page)


@router.get("/lookup", response_model=CertificatePublic, responses=problems(404))
async def certificates_lookup(
    session: SessionDep,
    number: Annotated[str, Query(min_length=1, max_length=60, examples=["OCOP-22-2026-0042"])],
) -> CertificatePublic:
    """Check a certificate by its number: anyone, no token (what a consumer or a buyer verifies)."""
    return CertificatePublic.model_validate(await service.lookup(session, number=number))


@router.get("/{certificate_id}", response_model=CertificateRead, responses=problems(401, 404))
async def certificates_read(
    certificate_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> CertificateRead:
    """One certificate the caller may see."""
    return CertificateRead.model_validate(
        await service.get_certificate(session, principal=principal, certificate_id=certificate_id)
    )


@router.post(
    "/{certificate_id}/revoke", response_model=CertificateRead, responses=problems(401, 403, 404, 409)
)
async def certificates_revoke(
    certificate_id: uuid.UUID,
    body: CertificateRevoke,
    session: SessionDep,
    principal: PrincipalDep,
) -> CertificateRead:
    """Revoke a certificate on one of the grounds (the authority of its level); the registry is told."""
    certificate = await service.revoke_certificate(
        session, principal=principal, certificate_id=certificate_id, ground=body.ground.value,
        reason=body.reason, decision_number=body.decision_number,
    )  # fmt: skip
    return CertificateRead.model_validate(certificate)
