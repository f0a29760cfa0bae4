"""Exports: who may export, and records written as CSV (streamed as read) or XLSX (a temporary file).

The entities and products services choose the records; these functions only write them. The XLSX
writer blocks (XML serialisation), so it runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import policies
from services.registry.files import writers
from services.registry.files.columns import FileFormat, FileLayout
from shared import clock
from shared.db import Database
from shared.security.dependencies import Forbidden, require_authenticated
from shared.security.principal import Principal
from shared.security.scopes import Visibility

EXPORT_BATCH_ROWS = 2_000

# Batches of rows (mappings by column name), as a repository streams them.
Batches = AsyncIterator[Sequence[Any]]
# A workbook in a temporary file, or CSV chunks to stream.
Exported = Path | AsyncIterator[bytes]


def require_file_access(principal: Principal) -> Principal:
    """Import and export are staff work: 401 for anonymous callers, 403 for everyone else not staff."""
    require_authenticated(principal)
    if not policies.can_import(principal):
        raise Forbidden("Only officers and administrators import and export registry data.")
    return principal


def export_filename(layout: FileLayout, file_format: FileFormat) -> str:
    """The download's file name, dated (ocop-entities-2026-11-28.csv)."""
    return f"ocop-{layout.kind}-{clock.today().isoformat()}.{file_format}"


async def export(
    layout: FileLayout,
    rows: Callable[[AsyncSession, Visibility], Batches],
    *,
    session: AsyncSession,
    database: Database,
    principal: Principal,
    file_format: FileFormat,
) -> Exported:
    """The records ``rows`` streams for what the caller may see, as a file (staff only).

    A workbook is built in a temporary file within the request; CSV is read, in a session of its own,
    as the client reads the response (access is checked now).
    """
    require_file_access(principal)
    visible = policies.visibility(principal)
    if file_format == "xlsx":
        return await xlsx_file(layout, rows(session, visible))

    async def batches() -> Batches:
        async with database.sessionmaker() as own_session:
            async for batch in rows(own_session, visible):
                yield batch

    return csv_chunks(layout, batches())


async def csv_chunks(layout: FileLayout, batches: Batches) -> AsyncIterator[bytes]:
    """The header, then each batch of rows, as encoded CSV."""
    yield writers.csv_header(layout)
    async for batch in batches:
        yield writers.csv_rows(layout, batch)


async def xlsx_file(layout: FileLayout, batches: Batches) -> Path:
    """The rows as a workbook in a temporary file, which the caller deletes after sending it."""
    descriptor, name = tempfile.mkstemp(prefix="ocop-export-", suffix=".xlsx")
    os.close(descriptor)
    path = Path(name)
    try:
        workbook = await asyncio.to_thread(writers.XlsxExport, layout)
        async for batch in batches:
            await asyncio.to_thread(workbook.append, list(batch))
        await asyncio.to_thread(workbook.save, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        raise
    return path
