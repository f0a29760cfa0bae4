"""HTTP routes of the print files: a generated batch's CSV, ZIP and PDF label sheets, one stamp's QR code."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from services.stamps.config import StampsSettings
from services.stamps.printing import service
from services.stamps.printing.schemas import SheetLayout
from shared.db import SessionDep
from shared.schemas import problems
from shared.security.dependencies import PrincipalDep

router = APIRouter(tags=["stamp printing"])

# Print files are the sensitive part (TRACEABILITY §4.2): no cache between the service and the printer keeps one.
NO_STORE = "no-store"


def _file(content_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": description,
            "content": {content_type: {"schema": {"type": "string", "format": "binary"}}},
        }
    }


def _download(file: service.PrintFile, disposition: str = "attachment") -> Response:
    headers = {"Content-Disposition": f'{disposition}; filename="{file.filename}"', "Cache-Control": NO_STORE}
    if file.chunks is not None:
        return StreamingResponse(file.chunks, media_type=file.media_type, headers=headers)
    return Response(file.content, media_type=file.media_type, headers=headers)


def _settings(request: Request) -> StampsSettings:
    settings: StampsSettings = request.app.state.settings
    return settings


@router.get(
    "/v1/stamp-batches/{batch_id}/serials.csv", response_class=Response,
    responses=problems(401, 404, 409) | _file("text/csv", "serial, grouped_serial, uri, lot: a row a stamp (UTF-8)"),
)  # fmt: skip
async def stamp_batches_csv(
    batch_id: uuid.UUID, session: SessionDep, principal: PrincipalDep, request: Request
) -> Response:
    """A generated batch's stamps as CSV, streamed (its producer, its province's officers, admins; recorded)."""
    file = await service.batch_file(
        session, principal=principal, batch_id=batch_id, file_format="csv", database=request.app.state.db,
        host=_settings(request).resolver_host,
    )  # fmt: skip
    return _download(file)


@router.get(
    "/v1/stamp-batches/{batch_id}/serials.zip", response_class=Response,
    responses=problems(401, 404, 409) | _file("application/zip", "stamps.csv, and qr/<serial>.svg per stamp"),
)  # fmt: skip
async def stamp_batches_zip(
    batch_id: uuid.UUID, session: SessionDep, principal: PrincipalDep, request: Request,
    svgs: Annotated[bool | None, Query(description="An SVG per stamp beside the CSV (unset: if the batch has at most 10,000 stamps)")] = None,
) -> Response:  # fmt: skip
    """A generated batch's CSV zipped, with an SVG of each stamp's code, streamed (as the CSV; recorded)."""
    file = await service.batch_file(
        session, principal=principal, batch_id=batch_id, file_format="zip", database=request.app.state.db,
        host=_settings(request).resolver_host, svgs=svgs,
    )  # fmt: skip
    return _download(file)


@router.get(
    "/v1/stamp-batches/{batch_id}/labels.pdf", response_class=Response,
    responses=problems(401, 404, 409) | _file("application/pdf", "Label sheets: a QR, the grouped serial and the domain a label"),
)  # fmt: skip
async def stamp_batches_labels(
    batch_id: uuid.UUID, session: SessionDep, principal: PrincipalDep, request: Request,
    layout: Annotated[SheetLayout, Query()],
) -> Response:  # fmt: skip
    """A generated batch's label sheets as PDF, a page at a time (as the CSV; recorded); the layout in mm and pt."""
    file = await service.batch_file(
        session, principal=principal, batch_id=batch_id, file_format="pdf", database=request.app.state.db,
        host=_settings(request).resolver_host, layout=layout.settings(),
    )  # fmt: skip
    return _download(file)


@router.get(
    "/v1/stamps/{serial}/qr.svg", response_class=Response,
    responses=problems(401, 404, 409) | _file("image/svg+xml", "The stamp's QR code with its quiet zone"),
)  # fmt: skip
async def stamps_qr_svg(
    serial: str, session: SessionDep, principal: PrincipalDep, request: Request,
    scale: Annotated[float, Query(gt=0, le=100, description="Units per module (41 modules with the quiet zone)")] = 1,
    unit: Annotated[Literal["mm"] | None, Query(description="mm: scale is millimetres a module (0.4 → 16.4 mm)")] = None,
) -> Response:  # fmt: skip
    """One stamp's QR code as SVG (its batch's producer, officers, admins; recorded)."""
    file = await service.stamp_qr(
        session, principal=principal, serial=serial, file_format="svg", host=_settings(request).resolver_host,
        scale=scale, unit=unit,
    )  # fmt: skip
    return _download(file, "inline")


@router.get(
    "/v1/stamps/{serial}/qr.png", response_class=Response,
    responses=problems(401, 404, 409) | _file("image/png", "The stamp's QR code with its quiet zone"),
)  # fmt: skip
async def stamps_qr_png(
    serial: str, session: SessionDep, principal: PrincipalDep, request: Request,
    scale: Annotated[int, Query(ge=1, le=40, description="Pixels per module (41 modules with the quiet zone)")] = 8,
) -> Response:  # fmt: skip
    """One stamp's QR code as PNG (as the SVG; recorded)."""
    file = await service.stamp_qr(
        session, principal=principal, serial=serial, file_format="png", host=_settings(request).resolver_host,
        scale=scale,
    )  # fmt: skip
    return _download(file, "inline")
