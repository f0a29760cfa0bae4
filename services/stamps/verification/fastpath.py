"""The resolver's GETs answered by a pure ASGI layer, without the framework's routing and handler machinery.

A verification spent about a third of its CPU in FastAPI's exception middleware, route matching, dependency
solving and endpoint wrapping (py-spy under bench.verification). This layer sits inside the request-id,
body and control-character guards (so ids, the access log and the guards still apply) and answers
``GET``/``HEAD /01/…`` and ``/v/{code}`` with the very function the routes call (``router.answer_path``);
the routes stay declared, for the OpenAPI document. A problem is rendered as the problem handlers would.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from services.stamps.verification.router import answer_path
from shared.errors import ProblemError, problem_response

_METHODS = frozenset({"GET", "HEAD"})


class ResolverFastPath:
    """Pure ASGI middleware: resolver paths here, everything else to the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if scope["type"] != "http" or scope["method"] not in _METHODS or not path.startswith(("/01/", "/v/")):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await answer_path(request)
        except ProblemError as problem:
            response = problem_response(
                problem.status, problem.type, problem.title, problem.detail, path, headers=problem.headers,
                **problem.extensions,
            )  # fmt: skip
        if response is None:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)
