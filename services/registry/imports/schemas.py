"""Import job responses (the rows of an import file are validated by the registration schemas)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from services.registry.files.columns import FileFormat, ImportKind
from shared.schemas import ReadSchema

JobStatus = Literal["pending", "validating", "importing", "succeeded", "failed"]


class RowError(ReadSchema):
    """One fault in the file: the row as a spreadsheet numbers it (header = 1) and the column."""

    row: Annotated[int | None, Field(description="Row number, header = 1; null for the file as a whole")]
    column: Annotated[str | None, Field(description="Column name; null for the row as a whole")]
    message: str


class ImportJobSummary(ReadSchema):
    """An import job without its error list (the job listing)."""

    id: uuid.UUID
    kind: ImportKind
    file_format: FileFormat
    filename: str | None
    valid_rows_only: bool
    status: JobStatus
    total: Annotated[int | None, Field(description="Data rows in the file, known once validated")]
    validated: Annotated[int, Field(description="Rows checked so far")]
    done: Annotated[
        int, Field(description="Rows imported (or skipped as invalid) so far; equals total at the end")
    ]
    created: int
    updated: int
    unchanged: int
    invalid: Annotated[int, Field(description="Rows with at least one error")]
    created_by: str
    created_at: datetime
    finished_at: datetime | None


class ImportJobRead(ImportJobSummary):
    """An import job with its errors (the first ones, up to a limit)."""

    errors: list[RowError]
    errors_truncated: Annotated[
        bool, Field(description="More errors were found than are listed; `invalid` counts every bad row")
    ] = False
