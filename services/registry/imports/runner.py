"""The import job runner: the background task that validates a file, then writes it all or nothing.

An import runs in the background of the service process, one at a time. The validation pass reads the
file row by row and records every error; by default any error fails the job and nothing is written.
The writing pass reads the rows again (a CSV file anew, a workbook's rows from the spool the first pass
wrote) and writes them batch by batch through the entities and products services inside ONE
transaction, which also marks the job succeeded: a failure, or the process dying, leaves nothing
behind. Progress is recorded in separate short transactions so clients see it move. Memory stays
bounded by the batch size plus a few compact keys per row (to find duplicates within the file).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import IO, Any

from sqlalchemy import func
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.files.columns import LAYOUTS, FileFormat, FileLayout, ImportKind, normalise_header
from services.registry.imports import readers
from services.registry.imports.models import ImportJob
from services.registry.imports.repository import ImportJobRepository
from services.registry.imports.rows import (
    Counts,
    EntityRows,
    ErrorLog,
    ParsedRow,
    ProductRows,
    RegistryChanged,
    RowRules,
    header_errors,
    parse_row,
    row_error,
)
from services.registry.products import service as product_service
from shared import clock
from shared.db import Database
from shared.security.principal import Principal

logger = logging.getLogger("services.registry.imports")

# Rows per validation batch and per write chunk: one query per lookup (and per write) per batch.
BATCH_ROWS = 1_000
# Imports run one at a time per process, so memory stays bounded however many files arrive.
MAX_CONCURRENT_IMPORTS = 1
# Progress is written at least every batch, seconds apart; ten minutes of silence means the process
# running the job died (a clean shutdown marks its jobs failed itself).
STALLED_AFTER = timedelta(minutes=10)

_import_slots = asyncio.Semaphore(MAX_CONCURRENT_IMPORTS)
# Strong references: the event loop keeps only weak ones to running tasks.
_running_imports: set[asyncio.Task[None]] = set()


def launch(work: Coroutine[Any, Any, None]) -> None:
    """Run an import in the background of this process."""
    task = asyncio.create_task(work)
    _running_imports.add(task)
    task.add_done_callback(_running_imports.discard)


async def fail_interrupted_jobs(session: AsyncSession, stalled_after: timedelta = STALLED_AFTER) -> int:
    """Mark failed the jobs a crashed process left running; how many there were."""
    error = row_error(None, None, "the import was interrupted (the service stopped); upload the file again")
    return await ImportJobRepository(session).fail_stalled(stalled_after, error)


async def watch_stalled_jobs(database: Database, *, every_s: float, stalled_after: timedelta) -> None:
    """Fail stalled jobs now and then for as long as the service runs (a job's process may die any time)."""
    while True:
        await asyncio.sleep(every_s)
        try:
            async with database.sessionmaker.begin() as session:
                failed = await fail_interrupted_jobs(session, stalled_after)
        except Exception:  # the database may be restarting: try again at the next round
            logger.warning("could not look for stalled import jobs", exc_info=True)
            continue
        if failed:
            logger.warning("%d stalled import job(s) failed", failed)


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


def _read_batch(
    table: readers.Table, layout: FileLayout, *, from_csv: bool, spool: readers.RowSpool | None = None
) -> list[ParsedRow]:
    """The next rows of the file, schema-validated, spooled when asked (runs in a worker thread)."""
    raw_rows = list(itertools.islice(table.rows, BATCH_ROWS))
    if spool is not None:
        spool.write(raw_rows)
    return [parse_row(layout, raw, from_csv=from_csv) for raw in raw_rows]


@dataclass
class _Validation:
    """What the validation pass learned: the columns present, the bad rows and their errors."""

    present: frozenset[str]
    rules: RowRules | None
    spool: readers.RowSpool | None
    total: int = 0
    invalid_rows: set[int] = field(default_factory=set)
    errors: ErrorLog = field(default_factory=ErrorLog)


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

    def _rules(self, present: frozenset[str], codes: product_service.CodeNumbers | None = None) -> RowRules:
        if self.kind == "products":
            return ProductRows(self.principal, present, self.job_id, codes)
        return EntityRows(self.principal, present, self.today)

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
        codes = await self._reserve_codes(validation.rules)
        # The first pass's duplicate keys grow with the file: free them before the second.
        validation.rules = None
        await _set_job(
            self.database, self.job_id, status="importing", total=validation.total, invalid=invalid,
            errors=validation.errors.stored(),
        )  # fmt: skip
        try:
            await self._write(validation, codes)
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
            rules = self._rules(present)
            # A CSV file is read again for the second pass; a workbook is too slow to parse twice.
            validation = _Validation(
                present, rules, readers.RowSpool() if self.file_format == "xlsx" else None
            )
            try:
                async for batch in self._batches(table, validation.spool):
                    async with self.database.sessionmaker() as session:
                        await rules.apply(session, batch, write=False)
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

    async def _reserve_codes(self, rules: RowRules | None) -> product_service.CodeNumbers | None:
        """Take the code numbers the new products need, in a short transaction of its own.

        Taken inside the data transaction, the sequence rows would stay locked for the whole import and
        every product registered meanwhile in those communes would wait; a failed import leaves a gap.
        """
        if not isinstance(rules, ProductRows):
            return None
        async with self.database.sessionmaker.begin() as session:
            return await product_service.reserve_codes(
                session, counts=rules.new_per_commune, year=self.today.year
            )

    async def _write(self, validation: _Validation, codes: product_service.CodeNumbers | None) -> None:
        """Second pass: the valid rows, batch by batch, in one transaction that also ends the job."""
        table = validation.spool.table() if validation.spool is not None else await self._open()
        counts, done = Counts(), 0
        try:
            async with self.database.sessionmaker() as session, session.begin():
                rules = self._rules(validation.present, codes)
                async for batch in self._batches(table):
                    valid = [row for row in batch if row.number not in validation.invalid_rows]
                    written = await rules.apply(session, valid, write=True)
                    late = [error for row in valid for error in row.errors]
                    if late:
                        raise RegistryChanged(late)
                    counts.add(written)
                    done += len(batch)
                    await _set_job(self.database, self.job_id, done=done)
                await ImportJobRepository(session).set(
                    self.job_id, status="succeeded", done=done, created=counts.created, updated=counts.updated,
                    unchanged=counts.unchanged, errors=validation.errors.stored(), finished_at=func.now(),
                )  # fmt: skip
        finally:
            table.close()
