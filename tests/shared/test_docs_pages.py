"""The interactive docs load everything from the suite itself and carry a strict CSP."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx

SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


async def test_docs_use_local_assets_under_a_csp(registry_client: httpx.AsyncClient) -> None:
    page = await registry_client.get("/docs")
    assert page.status_code == 200
    html = page.text
    assert "/docs-assets/swagger-ui-bundle.js" in html
    assert "/docs-assets/swagger-ui.css" in html
    assert "cdn" not in html.lower()
    assert not re.search(r"""(src|href)=["']https?://""", html), "nothing may load from another host"
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    (inline,) = SCRIPT.findall(html)
    digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]


async def test_the_assets_are_served(registry_client: httpx.AsyncClient) -> None:
    script = await registry_client.get("/docs-assets/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert len(script.content) > 100_000
    style = await registry_client.get("/docs-assets/swagger-ui.css")
    assert style.status_code == 200
    assert style.headers["content-type"].startswith("text/css")
