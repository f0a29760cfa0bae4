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

from services.registry import policies
from services.registry.admin_units import service as admin_units_service
from services.registry.admin_units.errors import InvalidCommune
from services.registry.files.columns import FileFormat, ImportKind
from services.registry.files.exports import require_file_access
from services.registry.imports import readers, runner
from services.registry.imports.errors import FileRefused, ImportJobNotFound, UnsupportedFileType
from services.registry.imports.models import ImportJob
from services.registry.imports.repository import ImportJobRepository
from shared import clock
from shared.db import Database
from shared.files import HostileFile
from shared.pagination import KeysetPage, decode_cursor
from shared.security.principal import Principal
from shared.security.scopes import Place, Reach

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def require_importer(principal: Principal) -> Principal:
    """Importing is staff work (as exporting is): 401 for anonymous callers, 403 for other roles."""
    return require_file_access(principal)


def _may_see(principal: Principal, job: ImportJob) -> bool:
    return policies.can_read(principal, Place(None, job.commune_code, job.province_code))


async def _unit_of(session: AsyncSession, principal: Principal) -> tuple[str | None, str | None]:
    """The commune and province an officer's job belongs to (none for an admin's)."""
    visible = policies.visibility(principal)
    if visible.reach is Reach.province:
        return None, str(visible.value)
    if visible.reach is Reach.commune:
        try:
            commune = await admin_units_service.resolve_commune(session, str(visible.value), clock.today())
        except InvalidCommune:  # a unit that no longer exists: its officer alone sees the job
            return str(visible.value), None
        return commune.code, commune.province_code
    return None, None


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
    try:
        detected = await asyncio.to_thread(readers.detect_format, file)
    except HostileFile as exc:
        raise FileRefused(f"The workbook is refused: {exc.reason}.", field="file") from exc
    if detected not in ("csv", "xlsx"):
        raise UnsupportedFileType(f"The file is {detected}. Upload CSV (UTF-8) or an Excel workbook (.xlsx).")
    file_format: FileFormat = "xlsx" if detected == "xlsx" else "csv"
    async with database.sessionmaker.begin() as session:
        commune_code, province_code = await _unit_of(session, principal)
        job = await ImportJobRepository(session).add(
            ImportJob(
                kind=kind, file_format=file_format, filename=(filename or "")[:255] or None,
                valid_rows_only=valid_rows_only, status="pending", done=0, validated=0, created=0,
                updated=0, unchanged=0, invalid=0, errors=[], created_by=principal.sub,
                created_by_role=principal.role.value, scope=principal.scope,
                commune_code=commune_code, province_code=province_code,
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
        policies.visibility(principal), limit=limit, after=decode_cursor(cursor, datetime, uuid.UUID)
    )
