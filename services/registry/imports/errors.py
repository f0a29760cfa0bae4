"""Import and export errors."""

from __future__ import annotations

from shared.errors import NotFound, ProblemError


class ImportJobNotFound(NotFound):
    """No import job with this id (or none the caller may see)."""

    type = "import-job-not-found"
    title = "Import job not found"


class UploadTooLarge(ProblemError):
    """The upload is over the size limit (413)."""

    status = 413
    type = "upload-too-large"
    title = "Upload too large"


class UnsupportedFileType(ProblemError):
    """The upload is neither CSV (UTF-8) nor an XLSX workbook, or the body is not multipart (415)."""

    status = 415
    type = "unsupported-file-type"
    title = "Unsupported file type"


class FileRefused(ProblemError):
    """A workbook refused before parsing: too large once uncompressed, too many rows, a DTD, no sheets (422)."""

    status = 422
    type = "file-refused"
    title = "File refused"
