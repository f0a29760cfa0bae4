"""The one module that imports HTTP client libraries.

Two kinds of client live here behind small interfaces:
- ``Upstream``: the gateway's streaming forwarder, with an aiohttp and an httpx implementation
  (aiohttp is the default: measured 4–5x less CPU per proxied request, see docs/PERFORMANCE.md);
- ``make_service_client``: an httpx client for typed service-to-service calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Literal, Protocol

import aiohttp
import httpx
from yarl import URL

from shared.request_id import REQUEST_ID_HEADER, current_request_id

UpstreamClientKind = Literal["aiohttp", "httpx"]
RawHeaders = list[tuple[bytes, bytes]]
Body = AsyncIterator[bytes] | bytes | None


@dataclass(frozen=True)
class Timeouts:
    """Explicit limits for each phase of a call, in seconds."""

    connect: float = 2.0
    read: float = 15.0
    write: float = 15.0
    pool: float = 2.0


class UpstreamError(Exception):
    """The upstream could not be used."""


class UpstreamConnectError(UpstreamError):
    """No connection could be made (refused, reset, DNS): the gateway answers 502."""


class UpstreamTimeout(UpstreamError):
    """The upstream did not answer in time: the gateway answers 504."""


class UpstreamResponse(Protocol):
    """A streamed upstream response: status and raw headers now, the body as it arrives."""

    status: int
    headers: RawHeaders
    # The body's length when the upstream sent Content-Length (None: chunked or until close).
    content_length: int | None

    def body(self) -> AsyncIterator[bytes]:
        """Yield the body bytes unchanged (still compressed if the upstream compressed them)."""
        ...

    async def read(self) -> bytes:
        """The whole body at once (for a small body whose length is known)."""
        ...

    async def aclose(self) -> None:
        """Release the connection back to the pool."""
        ...


class Upstream(Protocol):
    """A pooled connection to one upstream service."""

    async def send(self, method: str, target: str, headers: RawHeaders, body: Body) -> UpstreamResponse:
        """Send a request to ``target`` (path and query) and return once the headers arrived."""
        ...

    async def aclose(self) -> None:
        """Close every pooled connection."""
        ...


class _AiohttpResponse:
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.headers: RawHeaders = list(response.raw_headers)
        self.content_length = response.content_length

    async def body(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise UpstreamTimeout(str(exc)) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamConnectError(str(exc)) from exc

    async def read(self) -> bytes:
        try:
            return await self._response.content.read()
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise UpstreamTimeout(str(exc)) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamConnectError(str(exc)) from exc

    async def aclose(self) -> None:
        self._response.release()


class AiohttpUpstream:
    """Upstream over aiohttp's pooled ClientSession."""

    def __init__(self, base_url: str, timeouts: Timeouts, max_connections: int) -> None:
        self.base_url = base_url.rstrip("/")
        # aiohttp has no write timeout; its "connect" covers waiting for a pooled connection.
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=timeouts.pool + timeouts.connect, sock_connect=timeouts.connect,
            sock_read=timeouts.read,
        )  # fmt: skip
        self._session: aiohttp.ClientSession | None = None
        self._max_connections = max_connections

    def _client(self) -> aiohttp.ClientSession:
        # Created lazily so it binds to the running event loop.
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._max_connections, keepalive_timeout=30)
            # No cookie jar: a proxy must not keep one client's cookies and send them with another's requests.
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept"), cookie_jar=aiohttp.DummyCookieJar(),
            )  # fmt: skip
        return self._session

    async def send(self, method: str, target: str, headers: RawHeaders, body: Body) -> UpstreamResponse:
        """Forward one request."""
        try:
            response = await self._client().request(
                # encoded=True: forward the client's bytes as sent; yarl would re-quote %2F and friends.
                method, URL(self.base_url + target, encoded=True), allow_redirects=False, data=body,
                headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers],
            )  # fmt: skip
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise UpstreamTimeout(str(exc)) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamConnectError(str(exc)) from exc
        return _AiohttpResponse(response)

    async def aclose(self) -> None:
        """Close the session."""
        if self._session is not None:
            await self._session.close()
            self._session = None


class _HttpxResponse:
    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status = response.status_code
        self.headers: RawHeaders = list(response.headers.raw)
        length = response.headers.get("content-length")
        self.content_length = int(length) if length and length.isdigit() else None

    async def body(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_raw():
                yield chunk
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(str(exc)) from exc
        except httpx.TransportError as exc:
            raise UpstreamConnectError(str(exc)) from exc

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.body()])

    async def aclose(self) -> None:
        await self._response.aclose()


class HttpxUpstream:
    """Upstream over one pooled httpx AsyncClient."""

    def __init__(self, base_url: str, timeouts: Timeouts, max_connections: int) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url,
            timeout=_httpx_timeout(timeouts),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            # Connect-phase retries only: a streamed body cannot be replayed.
            transport=httpx.AsyncHTTPTransport(retries=1),
            # A jar that accepts no cookie: a proxy must not keep one client's cookies for another.
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        )

    async def send(self, method: str, target: str, headers: RawHeaders, body: Body) -> UpstreamResponse:
        """Forward one request."""
        request = self._client.build_request(method, target, headers=headers, content=body)
        try:
            response = await self._client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(str(exc)) from exc
        except httpx.TransportError as exc:
            raise UpstreamConnectError(str(exc)) from exc
        return _HttpxResponse(response)

    async def aclose(self) -> None:
        """Close the client."""
        await self._client.aclose()


def make_upstream(
    base_url: str, *, kind: UpstreamClientKind = "aiohttp", timeouts: Timeouts, max_connections: int = 100
) -> Upstream:
    """A pooled forwarder to ``base_url`` using the chosen client library."""
    if kind == "httpx":
        return HttpxUpstream(base_url, timeouts, max_connections)
    return AiohttpUpstream(base_url, timeouts, max_connections)


def _httpx_timeout(timeouts: Timeouts) -> httpx.Timeout:
    return httpx.Timeout(
        connect=timeouts.connect, read=timeouts.read, write=timeouts.write, pool=timeouts.pool
    )


async def _propagate_request_id(request: httpx.Request) -> None:
    request_id = current_request_id()
    if request_id and REQUEST_ID_HEADER not in request.headers:
        request.headers[REQUEST_ID_HEADER] = request_id


def make_service_client(
    base_url: str, *, timeouts: Timeouts | None = None, max_connections: int = 50
) -> httpx.AsyncClient:
    """An httpx client for calls to another service; create one per upstream in lifespan."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=_httpx_timeout(timeouts or Timeouts()),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        transport=httpx.AsyncHTTPTransport(retries=2),
        event_hooks={"request": [_propagate_request_id]},
    )


async def get_json_status(client: httpx.AsyncClient, path: str, deadline_s: float) -> int:
    """GET ``path`` within an overall deadline and return the status (0 when unreachable)."""
    try:
        async with asyncio.timeout(deadline_s):
            response = await client.get(path)
    except (TimeoutError, httpx.HTTPError):
        return 0
    return response.status_code
