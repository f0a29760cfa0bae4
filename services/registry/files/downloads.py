"""The HTTP shape of the export endpoints: the format parameter, the documented answer, the download."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import Query, Response
from fastapi.responses import FileResponse, StreamingResponse
from starlette.background import BackgroundTask

from services.registry.files.columns import FileFormat, FileLayout
from services.registry.files.exports import Exported, export_filename

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

FormatQuery = Annotated[FileFormat, Query(alias="format", description="csv (UTF-8 with BOM) or xlsx")]

EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file, with the same columns an import takes",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def download(layout: FileLayout, exported: Exported) -> Response:
    """An export as the client receives it: a workbook as a file, CSV as a stream."""
    if isinstance(exported, Path):
        return xlsx_download(layout, exported)
    return csv_download(layout, exported)


def csv_download(layout: FileLayout, chunks: AsyncIterator[bytes]) -> Response:
    """A CSV export, streamed as it is read."""
    return StreamingResponse(
        chunks,
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{export_filename(layout, "csv")}"'},
    )


def xlsx_download(layout: FileLayout, path: Path) -> Response:
    """A workbook export from its temporary file, deleted once sent."""
    return FileResponse(
        path,
        media_type=XLSX_MEDIA_TYPE,
        filename=export_filename(layout, "xlsx"),
        background=BackgroundTask(path.unlink, missing_ok=True),
    )
