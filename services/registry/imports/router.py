"""HTTP routes of /v1/imports (the exports are routes of /v1/entities and /v1/products)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from services.registry.files.columns import ImportKind
from services.registry.imports import service, uploads
from services.registry.imports.rows import MAX_STORED_ERRORS
from services.registry.imports.schemas import ImportJobRead, ImportJobSummary
from shared.db import SessionDep
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from shared.schemas import Page, page_of, problems
from shared.security.dependencies import PrincipalDep

router = APIRouter(prefix="/v1/imports", tags=["imports"])

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [uploads.FILE_FIELD],
                    "properties": {
                        uploads.FILE_FIELD: {
                            "type": "string",
                            "format": "binary",
                            "description": "CSV (UTF-8, with or without BOM) or XLSX; at most 50 MiB. "
                            "The first row names the columns (the fields of the registration schema).",
                        }
                    },
                }
            }
        },
    }
}


def _read(job: object) -> ImportJobRead:
    read = ImportJobRead.model_validate(job)
    # The runner keeps MAX_STORED_ERRORS errors and then one line counting the rest.
    return read.model_copy(update={"errors_truncated": len(read.errors) > MAX_STORED_ERRORS})


KindQuery = Annotated[ImportKind, Query(description="What the file holds")]


@router.post(
    "", status_code=status.HTTP_202_ACCEPTED, response_model=ImportJobRead,
    responses=problems(401, 403, 413, 415), openapi_extra=_UPLOAD_BODY,
)  # fmt: skip
async def imports_create(
    request: Request,
    response: Response,
    principal: PrincipalDep,
    kind: KindQuery,
    valid_rows_only: Annotated[
        bool, Query(description="Import the valid rows even if others are invalid (default: all or nothing)")
    ] = False,
) -> ImportJobRead:
    """Upload a CSV or XLSX file of entities or products; poll the job at Location for progress (staff)."""
    service.require_importer(principal)
    upload = await uploads.receive_file(request, service.MAX_UPLOAD_BYTES)
    try:
        job = await service.start_import(
            request.app.state.db, principal=principal, kind=kind, valid_rows_only=valid_rows_only,
            filename=upload.filename, file=upload.file,
        )  # fmt: skip
    except BaseException:
        upload.file.close()
        raise
    response.headers["Location"] = f"/v1/imports/{job.id}"
    return _read(job)


@router.get("", response_model=Page[ImportJobSummary], responses=problems(401, 403))
async def imports_list(
    session: SessionDep,
    principal: PrincipalDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[ImportJobSummary]:
    """The import jobs of the caller's unit (all of them for an admin), newest first."""
    return page_of(
        ImportJobSummary, await service.list_jobs(session, principal=principal, limit=limit, cursor=cursor)
    )


@router.get("/{job_id}", response_model=ImportJobRead, responses=problems(401, 403, 404))
async def imports_read(job_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> ImportJobRead:
    """One import job: status, progress (done of total), counts and errors by row and column."""
    return _read(await service.get_job(session, principal=principal, job_id=job_id))
