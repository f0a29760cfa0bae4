"""HTTP routes of /v1/criteria-versions, /v1/product-sets and /v1/score-sheets."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, cast

from fastapi import APIRouter, Header, Path, Query, Request, Response, status
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from services.scoring.criteria import service
from services.scoring.criteria.errors import ScoreSheetInvalid, UnsupportedMediaType
from services.scoring.criteria.schemas import (
    CriteriaVersionDetail,
    CriteriaVersionRead,
    ProductSetRead,
    ScoreSheetCreate,
    ScoreSheetRead,
    ScoreSheetSummary,
    SheetSource,
    SheetStatus,
)
from services.scoring.db import idempotency_keys
from services.scoring.dependencies import IdempotencyDep
from shared.db import SessionDep
from shared.errors import InvalidField
from shared.idempotency import Idempotency
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from shared.schemas import Page, page_of, problems
from shared.security.dependencies import PrincipalDep

versions_router = APIRouter(prefix="/v1/criteria-versions", tags=["criteria"])
product_sets_router = APIRouter(prefix="/v1/product-sets", tags=["criteria"])
sheets_router = APIRouter(prefix="/v1/score-sheets", tags=["criteria"])

# As the Idempotency-Key header of shared.idempotency, for the upload route that matches keys on content.
KeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key", min_length=8, max_length=200, pattern=r"^[A-Za-z0-9._:\-]+$",
        description="Makes a retry safe: the first response to this key (and this file) is replayed",
    ),
]  # fmt: skip
VersionQuery = Annotated[
    str | None,
    Query(
        max_length=20,
        description='A criteria version\'s code ("26/2026", URL-encoded) or its slug ("26-2026")',
    ),
]


@versions_router.get("", response_model=Page[CriteriaVersionRead])
async def criteria_versions_list() -> Page[CriteriaVersionRead]:
    """Every criteria version with its rules, in the order they came into force (public)."""
    return Page[CriteriaVersionRead](
        items=[CriteriaVersionRead.of(version) for version in service.list_versions()]
    )


@versions_router.get("/{slug}", response_model=CriteriaVersionDetail, responses=problems(404))
async def criteria_versions_read(
    slug: Annotated[str, Path(max_length=20, description='The slug ("26-2026", "148-1489") or the code')],
) -> CriteriaVersionDetail:
    """One criteria version with its rules and its 26 product sets (public)."""
    return CriteriaVersionDetail.of(service.get_version(code=slug))


@product_sets_router.get("", response_model=Page[ProductSetRead])
async def product_sets_list(
    session: SessionDep,
    criteria_version: VersionQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[ProductSetRead]:
    """The product sets of a criteria version (or of all), with their group and sector (public)."""
    page = await service.list_product_sets(
        session, criteria_version=criteria_version, limit=limit, cursor=cursor
    )
    return page_of(ProductSetRead, page)


@sheets_router.get("", response_model=Page[ScoreSheetSummary], responses=problems(401))
async def score_sheets_list(
    session: SessionDep,
    principal: PrincipalDep,
    criteria_version: VersionQuery = None,
    product_set: Annotated[
        int | None,
        Query(ge=1, le=26, description="The sheets that apply to this set: its own and the generic ones"),
    ] = None,
    source: SheetSource | None = None,
    sheet_status: Annotated[SheetStatus | None, Query(alias="status")] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[ScoreSheetSummary]:
    """Published sheets (public) and the drafts the caller may see (admins; officers of the province), newest first."""
    page = await service.list_sheets(
        session, principal=principal, criteria_version=criteria_version, product_set=product_set, source=source,
        status=sheet_status, limit=limit, cursor=cursor,
    )  # fmt: skip
    return page_of(ScoreSheetSummary, page)


@sheets_router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=ScoreSheetRead, responses=problems(401, 403, 409)
)
async def score_sheets_create(
    body: ScoreSheetCreate,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    idempotency: IdempotencyDep,
) -> ScoreSheetRead | Response:
    """Import a sheet as a JSON tree (admins, province officers): validated whole, stored as a draft."""

    async def create() -> ScoreSheetRead:
        return ScoreSheetRead.of(await service.import_sheet(session, principal=principal, data=body))

    return await idempotency.create(response, create, location=lambda sheet: f"/v1/score-sheets/{sheet.id}")


_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "criteria_version"],
                    "properties": {
                        "file": {"type": "string", "format": "binary",
                                 "description": "XLSX: one row per node or option (docs/API.md lists the columns)"},
                        "criteria_version": {"type": "string", "maxLength": 20, "examples": ["26-2026"],
                                             "description": 'The code ("26/2026") or slug ("26-2026")'},
                        "product_set": {"type": "integer", "minimum": 1, "maximum": 26,
                                        "description": "Leave out for a generic sheet"},
                    },
                }
            }
        },
    }
}  # fmt: skip


@dataclass
class _Upload:
    file: UploadFile
    criteria_version: str
    product_set: int | None


async def _upload(request: Request) -> _Upload:
    """The form of a sheet upload: ``file``, ``criteria_version`` and an optional ``product_set``.

    Read here rather than as FastAPI form parameters, so the Idempotency-Key is matched on the content
    (the multipart boundary differs between two sends of the same file).
    """
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise UnsupportedMediaType("Send the workbook as multipart/form-data in the field 'file'.")
    try:
        form = await request.form(max_files=1, max_fields=5)
    except (MultiPartException, HTTPException) as exc:
        raise InvalidField("body", str(getattr(exc, "message", None) or getattr(exc, "detail", exc))) from exc
    errors: list[dict[str, str]] = []
    upload, version, product_set = form.get("file"), form.get("criteria_version"), form.get("product_set")
    if not isinstance(upload, UploadFile):
        errors.append(
            {"field": "body.file", "message": "attach the workbook in the field 'file'", "type": "missing"}
        )
    if not isinstance(version, str) or not 1 <= len(version.strip()) <= 20:
        errors.append({"field": "body.criteria_version", "message": 'a version such as "26/2026" or "26-2026"',
                       "type": "missing"})  # fmt: skip
    number: int | None = None
    if isinstance(product_set, str) and product_set.strip():
        number = int(product_set) if product_set.strip().isdigit() and len(product_set.strip()) <= 2 else 0
        if not 1 <= number <= 26:
            errors.append(
                {"field": "body.product_set", "message": "a product set from 1 to 26", "type": "range"}
            )
    elif product_set is not None and not isinstance(product_set, str):
        errors.append({"field": "body.product_set", "message": "a number, not a file", "type": "type"})
    if errors:
        await form.close()
        raise ScoreSheetInvalid(errors)
    return _Upload(cast(UploadFile, upload), cast(str, version).strip(), number)


@sheets_router.post(
    "/import", status_code=status.HTTP_201_CREATED, response_model=ScoreSheetRead,
    responses=problems(401, 403, 409, 413, 415), openapi_extra=_UPLOAD_BODY,
)  # fmt: skip
async def score_sheets_import(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    idempotency_key: KeyHeader = None,
) -> ScoreSheetRead | Response:
    """Import a sheet as an XLSX workbook (admins, province officers): validated whole, stored as a draft."""
    service.require_importer(principal)
    upload = await _upload(request)
    try:
        content = hashlib.sha256(f"{upload.criteria_version}\n{upload.product_set}\n".encode())
        content.update(await upload.file.read())
        await upload.file.seek(0)
        idempotency = Idempotency(
            idempotency_keys,
            session,
            principal,
            idempotency_key,
            content.hexdigest(),
            "POST",
            request.url.path,
        )

        async def create() -> ScoreSheetRead:
            document = await service.import_workbook(
                session, principal=principal, criteria_version=upload.criteria_version,
                product_set=upload.product_set, file=upload.file.file,
            )  # fmt: skip
            return ScoreSheetRead.of(document)

        return await idempotency.create(
            response, create, location=lambda sheet: f"/v1/score-sheets/{sheet.id}"
        )
    finally:
        await upload.file.close()


@sheets_router.get("/{sheet_id}", response_model=ScoreSheetRead, responses=problems(401, 404))
async def score_sheets_read(
    sheet_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> ScoreSheetRead:
    """A sheet with its whole tree (public once published; a draft: admins and officers of its province)."""
    return ScoreSheetRead.of(await service.get_sheet(session, principal=principal, sheet_id=sheet_id))


@sheets_router.post(
    "/{sheet_id}/publish", response_model=ScoreSheetRead, responses=problems(401, 403, 404, 409)
)
async def score_sheets_publish(
    sheet_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> ScoreSheetRead:
    """Publish a draft (admins; a province officer its province's): new applications pin it from now on."""
    return ScoreSheetRead.of(await service.publish_sheet(session, principal=principal, sheet_id=sheet_id))


routers = (versions_router, product_sets_router, sheets_router)
