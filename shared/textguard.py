"""Text is valid or refused: control characters never reach a service's rules or its database.

PostgreSQL refuses NUL in text outright and a lone surrogate cannot be encoded, so either would end
as a 500 deep in a query; they, and the other control characters, are a 422 naming the field instead.
Bodies are checked by ``BaseSchema`` (newlines and tabs allowed in text); the query string, cursors
included, and the path by ``ControlCharacterGuard`` (nothing allowed).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import parse_qsl, unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from shared.errors import problem_response

TEXT_WHITESPACE = frozenset("\t\n\r")
# A control character reaches a path or query only percent-encoded or as a raw byte outside printable ASCII.
_MAYBE_CONTROL = re.compile(rb"[%\x00-\x1f\x7f-\xff]")
MESSAGE = "control characters (NUL and the like) are not allowed"


def forbidden_character(text: str, *, allow_whitespace: bool) -> str | None:
    """The first control or surrogate character of ``text`` (tab, newline, CR allowed if asked), or None."""
    if text.isprintable():
        return None
    for character in text:
        if allow_whitespace and character in TEXT_WHITESPACE:
            continue
        if unicodedata.category(character) in ("Cc", "Cs"):
            return character
    return None


def _query_fields(query_string: bytes) -> list[tuple[str, str]]:
    text = query_string.decode("latin-1")
    return parse_qsl(text, keep_blank_values=True, errors="surrogateescape")


class ControlCharacterGuard:
    """Pure ASGI: refuse a path or query parameter holding a control character with a 422."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            field = self._offending_field(scope)
            if field is not None:
                response = problem_response(
                    422,
                    "validation-error",
                    "Request validation failed",
                    f"Invalid fields: {field}",
                    scope["path"],
                    errors=[{"field": field, "message": MESSAGE, "type": "control_character"}],
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _offending_field(scope: Scope) -> str | None:
        raw_path: bytes = scope.get("raw_path", b"")
        query_string: bytes = scope.get("query_string", b"")
        if not _MAYBE_CONTROL.search(raw_path) and not _MAYBE_CONTROL.search(query_string):
            return None  # plain ASCII without escapes: no control character can hide in it
        if forbidden_character(unquote(raw_path.decode("latin-1")), allow_whitespace=False):
            return "path"
        for name, value in _query_fields(query_string):
            if forbidden_character(value, allow_whitespace=False) or forbidden_character(
                name, allow_whitespace=False
            ):
                printable = "".join(c if c.isprintable() else "?" for c in name)[:60]
                return f"query.{printable}"
        return None
