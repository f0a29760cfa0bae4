"""Receiving an uploaded file: multipart parsed from the request stream into a temporary file, size-capped.

The body is never held whole in memory (the parser spools the file to disk past 1 MiB) and reading
stops as soon as it passes the limit, whether or not the client declared a Content-Length.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import IO

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from services.registry.imports.errors import UnsupportedFileType, UploadTooLarge
from shared.errors import InvalidField

FILE_FIELD = "file"
# Room for the multipart envelope (boundaries, part headers, a few small fields) around the file.
ENVELOPE_BYTES = 64 * 1024


@dataclass
class Upload:
    """The uploaded file (positioned at its start), its name as the client gave it, and its size."""

    file: IO[bytes]
    filename: str | None
    size: int


def _too_large(limit: int) -> UploadTooLarge:
    return UploadTooLarge(f"Files are limited to {limit // (1024 * 1024)} MiB.", limit_bytes=limit)


async def _capped(stream: AsyncIterator[bytes], limit: int) -> AsyncGenerator[bytes, None]:
    received = 0
    async for chunk in stream:
        received += len(chunk)
        if received > limit:
            raise _too_large(limit - ENVELOPE_BYTES)
        yield chunk


async def receive_file(request: Request, limit: int) -> Upload:
    """The file of a multipart/form-data body (field ``file``); 413 past ``limit`` bytes, 415 if not multipart."""
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise UnsupportedFileType(f"Send the file as multipart/form-data in the field {FILE_FIELD!r}.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + ENVELOPE_BYTES:
        raise _too_large(limit)
    parser = MultiPartParser(
        request.headers, _capped(request.stream(), limit + ENVELOPE_BYTES), max_files=1, max_fields=10
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise InvalidField(f"body.{FILE_FIELD}", str(exc)) from exc
    upload = form.get(FILE_FIELD)
    if not isinstance(upload, UploadFile):
        for _, value in form.multi_items():
            if isinstance(value, UploadFile):
                value.file.close()
        raise InvalidField(f"body.{FILE_FIELD}", f"attach the file in the multipart field {FILE_FIELD!r}")
    size = upload.size or 0
    if size > limit:
        upload.file.close()
        raise _too_large(limit)
    if size == 0:
        upload.file.close()
        raise InvalidField(f"body.{FILE_FIELD}", "the file is empty")
    upload.file.seek(0)
    return Upload(upload.file, upload.filename, size)
