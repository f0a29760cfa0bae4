"""HTTP routes of /v1/imports and of the exports /v1/entities/export and /v1/products/export."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import FileResponse, StreamingResponse
from starlette.background import BackgroundTask

from services.registry.files.columns import FileFormat, ImportKind
from services.registry.imports import service, uploads
from services.registry.imports.schemas import ImportJobRead, ImportJobSummary
from shared.db import SessionDep
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from shared.schemas import Page, problems
from shared.security.dependencies import PrincipalDep

# No prefix: the export routes live under /v1/entities and /v1/products.
router = APIRouter(tags=["imports"])

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

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
_EXPORT_CONTENT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file, with the same columns an import takes",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}

KindQuery = Annotated[ImportKind, Query(description="What the file holds")]
FormatQuery = Annotated[FileFormat, Query(alias="format", description="csv (UTF-8 with BOM) or xlsx")]


@router.post(
    "/v1/imports", status_code=status.HTTP_202_ACCEPTED, response_model=ImportJobRead,
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
            request.app.state.db, principal, kind=kind, valid_rows_only=valid_rows_only,
            filename=upload.filename, file=upload.file,
        )  # fmt: skip
    except BaseException:
        upload.file.close()
        raise
    response.headers["Location"] = f"/v1/imports/{job.id}"
    return ImportJobRead.model_validate(job)


@router.get("/v1/imports", response_model=Page[ImportJobSummary], responses=problems(401, 403))
async def imports_list(
    session: SessionDep,
    principal: PrincipalDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[ImportJobSummary]:
    """The import jobs of the caller's unit (all of them for an admin), newest first."""
    return await service.list_jobs(session, principal, limit=limit, cursor=cursor)


@router.get("/v1/imports/{job_id}", response_model=ImportJobRead, responses=problems(401, 403, 404))
async def imports_read(job_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> ImportJobRead:
    """One import job: status, progress (done of total), counts and errors by row and column."""
    return await service.get_job(session, principal, job_id)


async def _export(
    request: Request, session: SessionDep, principal: PrincipalDep, kind: ImportKind, file_format: FileFormat
) -> Response:
    filename = service.export_filename(kind, file_format)
    if file_format == "xlsx":
        path = await service.export_xlsx(session, principal, kind)
        return FileResponse(
            path,
            media_type=XLSX_MEDIA_TYPE,
            filename=filename,
            background=BackgroundTask(path.unlink, missing_ok=True),
        )
    chunks = service.export_csv(request.app.state.db, principal, kind)
    return StreamingResponse(
        chunks,
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/v1/entities/export",
    response_class=Response,
    responses=problems(401, 403) | _EXPORT_CONTENT,
    tags=["entities"],
)
async def entities_export(
    request: Request, session: SessionDep, principal: PrincipalDep, file_format: FormatQuery = "csv"
) -> Response:
    """The entities the caller may see, as a file that imports back unchanged (staff)."""
    return await _export(request, session, principal, "entities", file_format)


@router.get(
    "/v1/products/export",
    response_class=Response,
    responses=problems(401, 403) | _EXPORT_CONTENT,
    tags=["products"],
)
async def products_export(
    request: Request, session: SessionDep, principal: PrincipalDep, file_format: FormatQuery = "csv"
) -> Response:
    """The products the caller may see (entity named by tax code), as a file that imports back unchanged (staff)."""
    return await _export(request, session, principal, "products", file_format)
