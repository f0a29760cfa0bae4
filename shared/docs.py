"""Interactive API docs served from the suite itself, under a strict Content-Security-Policy.

A province's network may not reach a CDN, so Swagger UI's script and stylesheet are served by every
process from the ``fastapi-offline`` wheel's copy; the page's one inline script is allowed by its hash
and nothing may be loaded from anywhere else.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

ASSETS_PATH = "/docs-assets"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def assets_directory() -> Path:
    """Swagger UI's files as shipped in the fastapi-offline wheel."""
    return Path(str(resources.files("fastapi_offline") / "static"))


def _content_security_policy(html: str) -> str:
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    return (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


def docs_page(openapi_url: str, title: str) -> HTMLResponse:
    """The Swagger UI page for ``openapi_url`` with local assets and its CSP."""
    page = get_swagger_ui_html(
        openapi_url=openapi_url,
        title=title,
        swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
    )
    html = bytes(page.body).decode()
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": _content_security_policy(html),
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
        },
    )


def docs_router(openapi_url: str, title: str) -> APIRouter:
    """``/docs``: the interactive documentation of ``openapi_url``."""
    router = APIRouter(include_in_schema=False)

    @router.get("/docs")
    async def docs() -> HTMLResponse:
        """Interactive documentation of this API."""
        return docs_page(openapi_url, title)

    return router


def mount_assets(app: object) -> None:
    """Serve Swagger UI's files at ``/docs-assets``."""
    app.mount(ASSETS_PATH, StaticFiles(directory=assets_directory()), name="docs-assets")  # type: ignore[attr-defined]
