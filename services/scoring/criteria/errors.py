"""Criteria errors: unknown versions and sheets, invalid sheets, invalid score choices."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.errors import Conflict, NotFound, ProblemError


class CriteriaVersionNotFound(NotFound):
    """No criteria version with this code or path-safe id."""

    type = "criteria-version-not-found"
    title = "Criteria version not found"


class ScoreSheetNotFound(NotFound):
    """No score sheet with this id (or none the caller may see: drafts are their importers' own)."""

    type = "score-sheet-not-found"
    title = "Score sheet not found"


class _FieldErrors(ProblemError):
    """A 422 naming every invalid field at once, shaped like any validation error."""

    status = 422
    type = "validation-error"
    title = "Request validation failed"

    def __init__(self, errors: Sequence[dict[str, Any]]) -> None:
        fields = ", ".join(dict.fromkeys(error["field"] for error in errors))
        super().__init__(f"Invalid fields: {fields}", errors=list(errors))


class ScoreSheetInvalid(_FieldErrors):
    """An imported sheet breaks the rules of a sheet (points, parts, orphans, options); every fault listed."""


class InvalidChoices(_FieldErrors):
    """A scorecard's choices name unknown criteria or options, or leave criteria out; every fault listed."""


class WorkbookRefused(ProblemError):
    """An uploaded workbook refused before parsing (too large once uncompressed, a DTD, not a workbook)."""

    status = 422
    type = "file-refused"
    title = "File refused"


class UnsupportedMediaType(ProblemError):
    """A workbook upload that is not multipart/form-data (415)."""

    status = 415
    type = "unsupported-file-type"
    title = "Unsupported media type"


class ScoreSheetNotDraft(Conflict):
    """Only a draft is published; a published sheet stays as it is."""

    type = "score-sheet-not-draft"
    title = "Score sheet is not a draft"


class ScoreSheetUnchanged(Conflict):
    """The import is identical to the latest sheet for the same version, set and province."""

    type = "score-sheet-unchanged"
    title = "Score sheet unchanged"


class NoPublishedSheet(NotFound):
    """No published sheet (not even the shipped generic one) exists for the version."""

    type = "score-sheet-not-found"
    title = "No published score sheet"
