"""Statistics errors."""

from __future__ import annotations

from shared.errors import ProblemError


class ResultStatsForbidden(ProblemError):
    """The caller may not read results' statistics, or not of the province asked for."""

    status = 403
    type = "forbidden"
    title = "Forbidden"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        if field is None:
            super().__init__(detail)
        else:
            super().__init__(detail, errors=[{"field": field, "message": detail, "type": "forbidden"}])
