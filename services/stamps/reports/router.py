"""HTTP routes of /v1/counterfeit-reports: consumers' reports (anyone sends one) and their review by officers."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response

from services.stamps.reports import service
from services.stamps.reports.schemas import (
    ReportCreate,
    ReportFilter,
    ReportRead,
    ReportReceipt,
    ReportResolve,
    ReportStatus,
)
from shared.db import SessionDep
from shared.images import MAX_IMAGE_BYTES
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from shared.schemas import Page, problems
from shared.security.dependencies import PrincipalDep

router = APIRouter(prefix="/v1/counterfeit-reports", tags=["reports"])
ProvinceQuery = Annotated[str | None, Query(pattern=r"^[0-9]{2}$", description="Province code (2 digits)")]
SerialQuery = Annotated[str | None, Query(min_length=1, max_length=18, description="A stamp's serial")]


@router.post("", status_code=201, response_model=ReportReceipt, responses=problems(413, 415))
async def reports_create(
    request: Request, session: SessionDep, body: Annotated[ReportCreate, Form()]
) -> ReportReceipt:  # fmt: skip
    """Report a suspicious product or stamp (anyone; no token needed): from a scan's page with its ``token``,
    or with the stamp's ``serial``; an optional photo. Officers of the stamp's province review it."""
    key, life = request.app.state.settings.scan_token_signing()
    data = await body.photo.read(MAX_IMAGE_BYTES + 1) if body.photo is not None else None
    report = await service.create_report(session, data=body, photo=data, token_key=key, token_life=life)
    return ReportReceipt.model_validate(report)


@router.get("", response_model=Page[ReportRead], responses=problems(401))
async def reports_list(
    session: SessionDep, principal: PrincipalDep, limit: LimitQuery = DEFAULT_LIMIT, cursor: CursorQuery = None,
    status: ReportStatus | None = None, province_code: ProvinceQuery = None, serial: SerialQuery = None,
) -> Page[ReportRead]:  # fmt: skip
    """The reports the caller may see (an officer its province's, a producer its products'), newest first."""
    where = ReportFilter(status=status, province_code=province_code, serial=serial)
    page = await service.list_reports(session, principal=principal, where=where, limit=limit, cursor=cursor)
    return Page[ReportRead](
        items=[ReportRead.of(report) for report in page.items], next_cursor=page.next_cursor
    )


@router.get("/{report_id}", response_model=ReportRead, responses=problems(401, 404))
async def reports_read(report_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> ReportRead:
    """One report."""
    return ReportRead.of(await service.get_report(session, principal=principal, report_id=report_id))


@router.get(
    "/{report_id}/photo", responses=problems(401, 404) | {200: {"content": {"image/*": {}}}},
    response_class=Response,
)  # fmt: skip
async def reports_photo(report_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> Response:
    """The report's photo (to those who may read the report)."""
    photo, media_type = await service.report_photo(session, principal=principal, report_id=report_id)
    return Response(
        photo,
        media_type=media_type,
        headers={"cache-control": "private, no-store", "x-content-type-options": "nosniff"},
    )


@router.post("/{report_id}/resolve", response_model=ReportRead, responses=problems(401, 403, 404, 409))
async def reports_resolve(
    report_id: uuid.UUID, body: ReportResolve, session: SessionDep, principal: PrincipalDep
) -> ReportRead:
    """Close an open report with a note (an officer of its province, or an admin)."""
    return ReportRead.of(
        await service.resolve_report(session, principal=principal, report_id=report_id, note=body.note)
    )
