"""The import API's rules: who may import, how an uploaded file becomes a job, which jobs a caller sees.

The job itself runs in the background (``runner``); it writes through the entities and products
services, never to their tables.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import IO

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.files.columns import FileFormat, ImportKind
from services.registry.files.exports import require_file_access
from services.registry.imports import readers, runner
from services.registry.imports.errors import ImportJobNotFound, UnsupportedFileType
from services.registry.imports.models import ImportJob
from services.registry.imports.repository import ImportJobRepository, JobFilter
from shared.db import Database
from shared.pagination import KeysetPage, decode_cursor
from shared.security.principal import Principal, Role

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def require_importer(principal: Principal) -> Principal:
    """Importing is staff work (as exporting is): 401 for anonymous callers, 403 for other roles."""
    return require_file_access(principal)


def _job_filter(principal: Principal) -> JobFilter:
    if principal.role is Role.admin:
        return JobFilter()
    return JobFilter(created_by_role=principal.role.value, scope=principal.scope)


def _may_see(principal: Principal, job: ImportJob) -> bool:
    visible = _job_filter(principal)
    return visible.created_by_role is None or (
        job.created_by_role == visible.created_by_role and job.scope == visible.scope
    )


async def start_import(
    database: Database,
    *,
    principal: Principal,
    kind: ImportKind,
    valid_rows_only: bool,
    filename: str | None,
    file: IO[bytes],
) -> ImportJob:
    """Check the file's type, record a pending job (committed) and start it in the background.

    The job takes ownership of ``file`` and closes it when it ends.
    """
    require_importer(principal)
    detected = await asyncio.to_thread(readers.detect_format, file)
    if detected not in ("csv", "xlsx"):
        raise UnsupportedFileType(f"The file is {detected}. Upload CSV (UTF-8) or an Excel workbook (.xlsx).")
    file_format: FileFormat = "xlsx" if detected == "xlsx" else "csv"
    async with database.sessionmaker.begin() as session:
        job = await ImportJobRepository(session).add(
            ImportJob(
                kind=kind, file_format=file_format, filename=(filename or "")[:255] or None,
                valid_rows_only=valid_rows_only, status="pending", done=0, validated=0, created=0,
                updated=0, unchanged=0, invalid=0, errors=[], created_by=principal.sub,
                created_by_role=principal.role.value, scope=principal.scope,
            )
        )  # fmt: skip
    runner.launch(runner.run_import(database, job.id, principal, file))
    return job


async def get_job(session: AsyncSession, *, principal: Principal, job_id: uuid.UUID) -> ImportJob:
    """A job the caller may see (its own unit's, or any for an admin); otherwise ImportJobNotFound."""
    require_importer(principal)
    job = await ImportJobRepository(session).get(job_id)
    if job is None or not _may_see(principal, job):
        raise ImportJobNotFound(f"No import job {job_id}")
    return job


async def list_jobs(
    session: AsyncSession, *, principal: Principal, limit: int, cursor: str | None
) -> KeysetPage[ImportJob]:
    """The jobs of the caller's unit (every job for an admin), newest first."""
    require_importer(principal)
    return await ImportJobRepository(session).list(
        _job_filter(principal), limit=limit, after=decode_cursor(cursor, datetime, uuid.UUID)
    )
