"""Administrative-unit errors, each a problem type of its own."""

from __future__ import annotations

from typing import Any

from shared.errors import InvalidField, NotFound, ProblemError


class AdminUnitNotFound(NotFound):
    """No unit has this code on the date asked (``periods`` lists the dates it did name a unit)."""

    type = "admin-unit-not-found"
    title = "Administrative unit not found"


class InvalidCommune(InvalidField):
    """A commune code that names no commune-level unit on the date that matters (422 on ``field``)."""


class AdminUnitDataInvalid(ProblemError):
    """A unit list (CSV) failed validation; ``row_errors`` names the file, row and column of each fault."""

    status = 422
    type = "invalid-admin-unit-data"
    title = "Administrative-unit data is invalid"

    def __init__(self, row_errors: list[dict[str, Any]]) -> None:
        super().__init__(
            f"{len(row_errors)} error(s) in the unit list; nothing was written", row_errors=row_errors
        )
        self.row_errors = row_errors
