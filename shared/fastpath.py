"""Hot GETs answered by a pure ASGI layer, without the framework's routing and handler machinery.

A small read spends about a third of its CPU in FastAPI's exception middleware, route matching,
dependency solving and endpoint wrapping (py-spy, bench.verification and bench). ``FastPath`` sits
inside the request-id, body and control-character guards (so ids, the access log and the guards still
apply) and offers each request under one of its prefixes to ``answer``, the very function the declared
route calls; ``answer`` returns None for anything it does not take (a token to check, a malformed id),
and the framework then answers as before. The routes stay declared, for the OpenAPI document. A
problem is rendered as the problem handlers would.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.errors import ProblemError, problem_response

Answer = Callable[[Request], Awaitable[Response | None]]


class FastPath:
    """Pure ASGI middleware: requests under ``prefixes`` with one of ``methods`` to ``answer`` first."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        prefixes: tuple[str, ...],
        answer: Answer,
        methods: frozenset[str] = frozenset({"GET"}),
    ) -> None:
        self.app = app
        self.prefixes = prefixes
        self.answer = answer
        self.methods = methods

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in self.methods
            or not scope["path"].startswith(self.prefixes)
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self.answer(request)
        except ProblemError as problem:
            response = problem_response(
                problem.status, problem.type, problem.title, problem.detail, scope["path"], headers=problem.headers,
                **problem.extensions,
            )  # fmt: skip
        if response is None:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)
