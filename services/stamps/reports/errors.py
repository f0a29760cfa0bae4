"""The problems of consumer reports."""

from __future__ import annotations

from shared.errors import Conflict, NotFound, ProblemError


class ReportNotFound(NotFound):
    """No such report, or none the caller may see."""

    type = "report-not-found"
    title = "Report not found"


class ReportAlreadyResolved(Conflict):
    """The report was resolved already."""

    type = "report-already-resolved"
    title = "The report is already resolved"


class PhotoTooLarge(ProblemError):
    """The photo exceeds the size limit of product images."""

    status = 413
    type = "photo-too-large"
    title = "Photo too large"


class UnsupportedPhotoType(ProblemError):
    """The photo is not a well-formed JPEG, PNG or WebP image."""

    status = 415
    type = "unsupported-photo-type"
    title = "Unsupported photo type"
