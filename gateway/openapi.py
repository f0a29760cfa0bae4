"""One OpenAPI document for the whole platform, merged from the upstreams' own documents."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from fastapi import FastAPI

from shared.http import Upstream, UpstreamError

logger = logging.getLogger("gateway.openapi")


async def _fetch(upstream: Upstream) -> dict[str, Any] | None:
    try:
        response = await upstream.send("GET", "/openapi.json", [(b"accept", b"application/json")], None)
    except UpstreamError:
        return None
    try:
        chunks = [chunk async for chunk in response.body()]
    finally:
        await response.aclose()
    if response.status != 200:
        return None
    document: dict[str, Any] = orjson.loads(b"".join(chunks))
    return document


async def merged_openapi(app: FastAPI, upstreams: dict[str, Upstream], owned: Any) -> dict[str, Any]:
    """The gateway's own document plus every upstream's routed paths and schemas."""
    document: dict[str, Any] = dict(app.openapi())
    paths: dict[str, Any] = dict(document.get("paths", {}))
    schemas: dict[str, Any] = dict(document.get("components", {}).get("schemas", {}))
    fetched = await asyncio.gather(*(_fetch(upstream) for upstream in upstreams.values()))
    missing = []
    for name, upstream_doc in zip(upstreams, fetched, strict=True):
        if upstream_doc is None:
            missing.append(name)
            continue
        for path, item in upstream_doc.get("paths", {}).items():
            if owned(path) == name:
                paths[path] = item
        for schema_name, schema in upstream_doc.get("components", {}).get("schemas", {}).items():
            schemas.setdefault(schema_name, schema)
    document["paths"] = paths
    document.setdefault("components", {})["schemas"] = schemas
    if missing:
        document["info"] = {**document["info"], "x-missing-upstreams": missing}
    return document
