"""A stand-in upstream for proxy mechanics: echoes what it received, stalls, streams big bodies."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

BIG_CHUNK = b"0123456789abcdef" * 4096  # 64 KiB
BIG_CHUNKS = 80  # 5 MiB


async def echo(request: Request) -> Response:
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.stream():
        digest.update(chunk)
        size += len(chunk)
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "raw_path": request.scope["raw_path"].decode(),
            "query": request.url.query,
            "headers": [[k.decode(), v.decode()] for k, v in request.scope["headers"]],
            "body_sha256": digest.hexdigest(),
            "body_size": size,
        },
        headers={
            "Connection": "close, X-Upstream-Secret",
            "X-Upstream-Secret": "s",
            "Keep-Alive": "timeout=5",
        },
    )


async def slow(_: Request) -> Response:
    await asyncio.sleep(5)
    return JSONResponse({"late": True})


async def big(_: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(BIG_CHUNKS):
            yield BIG_CHUNK

    return StreamingResponse(chunks(), media_type="application/octet-stream")


async def set_cookie(_: Request) -> Response:
    response = JSONResponse({"set": True})
    response.set_cookie("session", "someone-elses")
    return response


async def discovery(request: Request) -> Response:
    """As the stamps service answers EPCIS's OPTIONS: 204, no body, Allow and GS1-* headers."""
    return Response(
        status_code=204,
        headers={
            "Allow": "OPTIONS, POST, GET", "GS1-EPCIS-Version": "2.0.0", "X-Seen-Method": request.method,
            "X-Seen-Origin": request.headers.get("origin", ""),
        },
    )  # fmt: skip


async def healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/healthz", healthz),
        Route("/readyz", healthz),
        Route("/v1/stamps/slow", slow),
        Route("/v1/stamps/big", big),
        Route("/v1/stamps/set-cookie", set_cookie),
        Route("/v1/stamps/plain", healthz),
        Route("/epcis/capture", discovery, methods=["OPTIONS"]),
        Route("/v1/stamps/{rest:path}", echo, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        # An upload route (a large body cap at the gateway), for the streaming test.
        Route("/v1/imports", echo, methods=["POST"]),
    ]
)
