"""Edge middleware every process installs: request id in and out, access log, last-resort 500."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import PROBLEM_MEDIA_TYPE, internal_error_body
from shared.logging import AccessLog
from shared.request_id import REQUEST_ID_HEADER, accept_or_generate, set_request_id

error_logger = logging.getLogger("shared.middleware")

_HEADER = REQUEST_ID_HEADER.lower().encode()
_NOSNIFF = (b"x-content-type-options", b"nosniff")


class RequestIdMiddleware:
    """Pure ASGI middleware (no BaseHTTPMiddleware: it costs a task per request on the hot path)."""

    def __init__(self, app: ASGIApp, *, access_log: AccessLog | None = None) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        inbound = None
        for name, value in scope["headers"]:
            if name == _HEADER:
                inbound = value.decode("latin-1")
                break
        request_id = accept_or_generate(inbound)
        set_request_id(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        header = (_HEADER, request_id.encode())
        # Every answer (JSON, images, files, problems) is what its Content-Type says: browsers must not sniff.
        headers_added = [header, _NOSNIFF]
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                existing = message.get("headers", [])
                # A proxied answer may carry the upstream's nosniff already: one is enough.
                sniff = [] if any(name == _NOSNIFF[0] for name, _ in existing) else [_NOSNIFF]
                message["headers"] = [*existing, header, *sniff]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Starlette's ServerErrorMiddleware would answer with text/plain and without our
            # header; answer here instead so even a crash is a problem+json with the id.
            error_logger.exception("unhandled error", extra={"path": scope.get("path")})
            if not response_started:
                body = internal_error_body()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                            (b"content-length", str(len(body)).encode()),
                            *headers_added,
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
        finally:
            if self.access_log is not None:
                self.access_log.write(
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                    request_id=request_id,
                )
            set_request_id(None)
