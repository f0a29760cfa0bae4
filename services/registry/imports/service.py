"""Bulk import and export rules: who may, how a file becomes a job, and the job's two passes.

An import runs in the background of the service process. The validation pass reads the file row by
row and records every error; by default any error fails the job and nothing is written. The writing
pass reads the rows again (a CSV file anew, a workbook's rows from the spool the first pass wrote) and
writes batch by batch inside ONE transaction, so a failure leaves nothing behind; progress is recorded
in separate short transactions so clients see it move. Memory stays bounded by the batch size plus a
few compact keys per row (to find duplicates within the file), whatever the file's size.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy import func
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import policies
from services.registry.files import writers
from services.registry.files.columns import LAYOUTS, FileFormat, FileLayout, ImportKind, normalise_header
from services.registry.imports import readers
from services.registry.imports.errors import ImportJobNotFound, UnsupportedFileType
from services.registry.imports.models import ImportJob
from services.registry.imports.repository import ImportDataRepository, ImportJobRepository, JobFilter
from services.registry.imports.rows import (
    Counts,
    EntityRows,
    ParsedRow,
    ProductRows,
    RegistryChanged,
    RowRules,
    parse_row,
    row_error,
)
from services.registry.imports.schemas import ImportJobRead, ImportJobSummary
from shared import clock
from shared.db import Database
from shared.pagination import decode_cursor, encode_cursor
from shared.schemas import Page
from shared.security.dependencies import Forbidden, require_authenticated
from shared.security.principal import Principal, Role
from shared.security.scopes import Visibility

logger = logging.getLogger("services.registry.imports")

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_STORED_ERRORS = 1_000
# Rows per validation batch and per write chunk: one lookup query (and one upsert) per batch.
BATCH_ROWS = 1_000
EXPORT_BATCH_ROWS = 2_000
# Imports run one at a time per process, so memory stays bounded however many files arrive.
MAX_CONCURRENT_IMPORTS = 1
# Progress is written at least every batch, seconds apart; ten minutes of silence means the process
# running the job died (a clean shutdown marks its jobs failed itself).
STALLED_AFTER = timedelta(minutes=10)

_import_slots = asyncio.Semaphore(MAX_CONCURRENT_IMPORTS)
# Strong references: the event loop keeps only weak ones to running tasks.
_running_imports: set[asyncio.Task[None]] = set()


class ErrorLog:
    """The errors of a job: every one counted, the first ``limit`` kept."""

    def __init__(self, limit: int = MAX_STORED_ERRORS) -> None:
        self.limit = limit
        self.items: list[dict[str, Any]] = []
        self.dropped = 0

    def extend(self, errors: list[dict[str, Any]]) -> None:
        """Keep what fits; count the rest."""
        room = self.limit - len(self.items)
        self.items.extend(errors[:room])
        self.dropped += max(0, len(errors) - room)

    def stored(self) -> list[dict[str, Any]]:
        """The list as the job keeps it: the kept errors, then one line saying how many were not kept."""
        if not self.dropped:
            return self.items
        return [*self.items, row_error(None, None, f"{self.dropped} more error(s) not listed")]


# Access


def require_importer(principal: Principal) -> Principal:
    """Import and export are staff work: 401 for anonymous callers, 403 for everyone else not staff."""
    require_authenticated(principal)
    if not policies.can_import(principal):
        raise Forbidden("Only officers and administrators import and export registry data.")
    return principal


def _job_filter(principal: Principal) -> JobFilter:
    if principal.role is Role.admin:
        return JobFilter()
    return JobFilter(created_by_role=principal.role.value, scope=principal.scope)


def _may_see(principal: Principal, job: ImportJob) -> bool:
    visible = _job_filter(principal)
    return visible.created_by_role is None or (
        job.created_by_role == visible.created_by_role and job.scope == visible.scope
    )


# Jobs


async def start_import(
    database: Database,
    principal: Principal,
    *,
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
    _launch(run_import(database, job.id, principal, file))
    return job


def _launch(work: Coroutine[Any, Any, None]) -> None:
    task = asyncio.create_task(work)
    _running_imports.add(task)
    task.add_done_callback(_running_imports.discard)


def _read(job: ImportJob) -> ImportJobRead:
    read = ImportJobRead.model_validate(job)
    return read.model_copy(update={"errors_truncated": len(job.errors) > MAX_STORED_ERRORS})


async def get_job(session: AsyncSession, principal: Principal, job_id: uuid.UUID) -> ImportJobRead:
    """A job the caller may see (its own unit's, or any for an admin); otherwise ImportJobNotFound."""
    require_importer(principal)
    job = await ImportJobRepository(session).get(job_id)
    if job is None or not _may_see(principal, job):
        raise ImportJobNotFound(f"No import job {job_id}")
    return _read(job)


async def list_jobs(
    session: AsyncSession, principal: Principal, *, limit: int, cursor: str | None
) -> Page[ImportJobSummary]:
    """The jobs of the caller's unit (every job for an admin), newest first."""
    require_importer(principal)
    before = decode_cursor(cursor, datetime, uuid.UUID)
    jobs = await ImportJobRepository(session).list(_job_filter(principal), limit=limit + 1, before=before)
    next_cursor = (
        encode_cursor(jobs[limit - 1].created_at.isoformat(), str(jobs[limit - 1].id))
        if len(jobs) > limit
        else None
    )
    return Page[ImportJobSummary](
        items=[ImportJobSummary.model_validate(job) for job in jobs[:limit]], next_cursor=next_cursor
    )


# The background job


async def fail_interrupted_jobs(session: AsyncSession) -> int:
    """Mark failed the jobs a crashed process left running; how many there were."""
    error = {
        "row": None,
        "column": None,
        "message": "the import was interrupted (the service stopped); upload the file again",
    }
    return await ImportJobRepository(session).fail_stalled(STALLED_AFTER, error)


async def _set_job(database: Database, job_id: uuid.UUID, **values: Any) -> None:
    """Update the job in a short transaction of its own (never inside the data transaction)."""
    async with database.sessionmaker.begin() as session:
        await ImportJobRepository(session).set(job_id, **values)


async def _fail(database: Database, job_id: uuid.UUID, errors: list[dict[str, Any]], **values: Any) -> None:
    await _set_job(database, job_id, status="failed", errors=errors, finished_at=func.now(), **values)


async def run_import(database: Database, job_id: uuid.UUID, principal: Principal, file: IO[bytes]) -> None:
    """The whole job; whatever happens, the job ends succeeded or failed and the upload is closed."""
    try:
        async with _import_slots:
            async with database.sessionmaker() as session:
                job = await ImportJobRepository(session).get(job_id)
            if job is None:  # pragma: no cover - the job was committed before this task started
                return
            await _Import(database, job, principal, file).run()
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await _fail(database, job_id, [row_error(None, None, "the service stopped; nothing was written")])
        raise
    except Exception:
        logger.exception("import %s failed", job_id)
        with contextlib.suppress(Exception):
            await _fail(
                database,
                job_id,
                [row_error(None, None, "the import failed unexpectedly; nothing was written")],
            )
    finally:
        file.close()


def header_errors(layout: FileLayout, header: list[object]) -> list[dict[str, Any]]:
    """Errors of the header row: unnamed, repeated and unknown columns; missing required ones."""
    names = [normalise_header(cell) for cell in header]
    if not names:
        return [row_error(1, None, "the file is empty: the first row must name the columns")]
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if not name:
            errors.append(row_error(1, None, f"column {position} has no name"))
        elif name in seen:
            errors.append(row_error(1, name, "this column appears twice"))
        elif name not in layout.kinds:
            errors.append(row_error(1, name, f"unknown column; the columns are: {', '.join(layout.columns)}"))
        seen.add(name)
    errors.extend(
        row_error(1, column, "required column is missing")
        for column in layout.columns
        if column in layout.required and column not in seen
    )
    return errors


def _read_batch(
    table: readers.Table, layout: FileLayout, *, from_csv: bool, spool: readers.RowSpool | None = None
) -> list[ParsedRow]:
    """The next rows of the file, schema-validated, spooled when asked (runs in a worker thread)."""
    raw_rows = list(itertools.islice(table.rows, BATCH_ROWS))
    if spool is not None:
        spool.write(raw_rows)
    return [parse_row(layout, raw, from_csv=from_csv) for raw in raw_rows]


class _Import:
    """One run of an import job."""

    def __init__(self, database: Database, job: ImportJob, principal: Principal, file: IO[bytes]) -> None:
        self.database = database
        self.job_id = job.id
        self.kind: ImportKind = "products" if job.kind == "products" else "entities"
        self.file_format: FileFormat = "xlsx" if job.file_format == "xlsx" else "csv"
        self.valid_rows_only = job.valid_rows_only
        self.principal = principal
        self.file = file
        self.layout = LAYOUTS[self.kind]
        self.today = clock.today()

    async def _open(self) -> readers.Table:
        return await asyncio.to_thread(readers.open_table, self.file, self.file_format)

    async def _batches(
        self, table: readers.Table, spool: readers.RowSpool | None = None
    ) -> AsyncIterator[list[ParsedRow]]:
        from_csv = self.file_format == "csv"
        while batch := await asyncio.to_thread(
            _read_batch, table, self.layout, from_csv=from_csv, spool=spool
        ):
            yield batch

    async def _rules(
        self,
        repository: ImportDataRepository,
        present: frozenset[str],
        reserved: dict[str, range] | None = None,
    ) -> RowRules:
        if self.kind == "products":
            return ProductRows(self.principal, present, self.job_id, self.today, reserved)
        return EntityRows(self.principal, present, await repository.communes_valid_on(self.today))

    async def run(self) -> None:
        """Validate, then (when the file allows) write."""
        await _set_job(self.database, self.job_id, status="validating")
        try:
            validation = await self._validate()
        except readers.UnreadableFile as exc:
            await _fail(self.database, self.job_id, [row_error(exc.row, None, exc.message)])
            return
        if validation is None:
            return
        try:
            await self._import(validation)
        finally:
            if validation.spool is not None:
                validation.spool.close()

    async def _import(self, validation: _Validation) -> None:
        """Fail the job on invalid rows (unless only valid rows are wanted), else write them."""
        invalid = len(validation.invalid_rows)
        if invalid and not self.valid_rows_only:
            await _fail(
                self.database,
                self.job_id,
                validation.errors.stored(),
                total=validation.total,
                invalid=invalid,
            )
            return
        reserved = await self._reserve_codes(validation.rules)
        # The first pass's lookups and duplicate keys grow with the file: free them before the second.
        validation.rules = None
        await _set_job(
            self.database, self.job_id, status="importing", total=validation.total, invalid=invalid,
            errors=validation.errors.stored(),
        )  # fmt: skip
        try:
            await self._write(validation, reserved)
        except RegistryChanged as exc:
            late = ErrorLog()
            late.extend(
                [
                    row_error(None, None, "the registry changed while importing; nothing was written"),
                    *exc.errors,
                ]
            )
            await _fail(self.database, self.job_id, late.stored(), done=0)
        except IntegrityError:
            logger.warning("import %s rolled back on a unique constraint", self.job_id)
            await _fail(self.database, self.job_id, [row_error(
                None, None, "the registry changed while importing (a tax code, name or GTIN was taken meanwhile); "
                "nothing was written: import the file again",
            )], done=0)  # fmt: skip
        except DBAPIError as exc:
            logger.warning("import %s rolled back: %s", self.job_id, exc.orig)
            await _fail(self.database, self.job_id, [row_error(
                None, None, "the database refused the import (it may be busy); nothing was written: try again",
            )], done=0)  # fmt: skip
        except readers.UnreadableFile as exc:  # pragma: no cover - the same file read fine a moment ago
            await _fail(self.database, self.job_id, [row_error(exc.row, None, exc.message)], done=0)

    async def _validate(self) -> _Validation | None:
        """First pass: every row checked, every error recorded; None when the header is unusable."""
        table = await self._open()
        try:
            problems = header_errors(self.layout, table.header)
            if problems:
                await _fail(self.database, self.job_id, problems)
                return None
            present = frozenset(normalise_header(cell) for cell in table.header)
            async with self.database.sessionmaker() as session:
                rules = await self._rules(ImportDataRepository(session), present)
            # A CSV file is read again for the second pass; a workbook is too slow to parse twice.
            validation = _Validation(
                present, rules, readers.RowSpool() if self.file_format == "xlsx" else None
            )
            try:
                async for batch in self._batches(table, validation.spool):
                    async with self.database.sessionmaker() as session:
                        await rules.check(ImportDataRepository(session), batch)
                    for row in batch:
                        if row.errors:
                            validation.invalid_rows.add(row.number)
                            validation.errors.extend(row.errors)
                    validation.total += len(batch)
                    await _set_job(self.database, self.job_id, validated=validation.total)
            except BaseException:
                if validation.spool is not None:
                    validation.spool.close()
                raise
            return validation
        finally:
            table.close()

    async def _reserve_codes(self, rules: RowRules | None) -> dict[str, range]:
        """Take the code numbers the new products need, in a short transaction of its own.

        Taken inside the data transaction, the sequence rows would stay locked for the whole import and
        every product registered meanwhile in those communes would wait; a failed import leaves a gap.
        """
        if not isinstance(rules, ProductRows) or not rules.new_per_commune:
            return {}
        counts = rules.new_per_commune
        async with self.database.sessionmaker.begin() as session:
            last = await ImportDataRepository(session).take_code_numbers(counts, self.today.year)
        return {
            commune: range(last[commune] - count + 1, last[commune] + 1) for commune, count in counts.items()
        }

    async def _write(self, validation: _Validation, reserved: dict[str, range]) -> None:
        """Second pass: the valid rows, chunk by chunk, in one transaction that also ends the job."""
        table = validation.spool.table() if validation.spool is not None else await self._open()
        counts, done = Counts(), 0
        try:
            async with self.database.sessionmaker() as session, session.begin():
                repository = ImportDataRepository(session)
                rules = await self._rules(repository, validation.present, reserved)
                async for batch in self._batches(table):
                    valid = [row for row in batch if row.number not in validation.invalid_rows]
                    await rules.check(repository, valid)
                    late = [error for row in valid for error in row.errors]
                    if late:
                        raise RegistryChanged(late)
                    counts.add(await rules.write(repository, valid))
                    done += len(batch)
                    await _set_job(self.database, self.job_id, done=done)
                await ImportJobRepository(session).set(
                    self.job_id, status="succeeded", done=done, created=counts.created, updated=counts.updated,
                    unchanged=counts.unchanged, errors=validation.errors.stored(), finished_at=func.now(),
                )  # fmt: skip
        finally:
            table.close()


@dataclass
class _Validation:
    """What the validation pass learned: the columns present, the bad rows and their errors."""

    present: frozenset[str]
    rules: RowRules | None
    spool: readers.RowSpool | None
    total: int = 0
    invalid_rows: set[int] = field(default_factory=set)
    errors: ErrorLog = field(default_factory=ErrorLog)


# Export


def export_filename(kind: ImportKind, file_format: FileFormat) -> str:
    """The download's file name, dated (ocop-entities-2026-11-28.csv)."""
    return f"ocop-{kind}-{clock.today().isoformat()}.{file_format}"


def export_csv(database: Database, principal: Principal, kind: ImportKind) -> AsyncIterator[bytes]:
    """The visible records as CSV chunks; access is checked now, the rows are read as the client reads."""
    require_importer(principal)
    return _csv_chunks(database, policies.visibility(principal), LAYOUTS[kind])


async def _csv_chunks(database: Database, visible: Visibility, layout: FileLayout) -> AsyncIterator[bytes]:
    yield writers.csv_header(layout)
    async with database.sessionmaker() as session:
        async for batch in _stream(ImportDataRepository(session), visible, layout):
            yield writers.csv_rows(layout, batch)


def _stream(repository: ImportDataRepository, visible: Visibility, layout: FileLayout) -> AsyncIterator[Any]:
    if layout.kind == "products":
        return repository.stream_products(visible, layout.columns, EXPORT_BATCH_ROWS)
    return repository.stream_entities(visible, layout.columns, EXPORT_BATCH_ROWS)


async def export_xlsx(session: AsyncSession, principal: Principal, kind: ImportKind) -> Path:
    """The visible records as a workbook in a temporary file, which the caller deletes after sending."""
    require_importer(principal)
    layout = LAYOUTS[kind]
    descriptor, name = tempfile.mkstemp(prefix="ocop-export-", suffix=".xlsx")
    os.close(descriptor)
    path = Path(name)
    try:
        workbook = await asyncio.to_thread(writers.XlsxExport, layout)
        async for batch in _stream(ImportDataRepository(session), policies.visibility(principal), layout):
            await asyncio.to_thread(workbook.append, list(batch))
        await asyncio.to_thread(workbook.save, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        raise
    return path
