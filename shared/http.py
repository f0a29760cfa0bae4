"""The one module that imports HTTP client libraries.

Two kinds of client live here behind small interfaces:
- ``Upstream``: the gateway's streaming forwarder: our own HTTP/1.1 client (``NativeUpstream``, the
  default: half of aiohttp's CPU per proxied request, a tenth of httpx's, see docs/PERFORMANCE.md),
  an aiohttp and an httpx implementation;
- ``make_service_client``: an httpx client for typed service-to-service calls.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Literal, Protocol

import aiohttp
import aiohttp.abc
import httptools
import httpx
from yarl import URL

from shared.request_id import REQUEST_ID_HEADER, current_request_id

UpstreamClientKind = Literal["native", "aiohttp", "httpx"]
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


# --- native: HTTP/1.1 on asyncio with httptools' parser --------------------------------------------

# Below this many buffered response bytes reading goes on; above it the socket is paused until the
# consumer catches up (a slow client must not make the gateway buffer a whole download).
_READ_HIGH_WATER = 256 * 1024
_IDLE_S = 30.0  # less than the services' keep-alive (35 s): we never reuse a connection they closed
_CHUNKED = (b"transfer-encoding", b"chunked")


class _Exchange(asyncio.Protocol):
    """One keep-alive connection to the upstream and the response being read on it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._writable: asyncio.Event | None = None
        # One parser for the connection's life: llhttp starts afresh after each message.
        self.parser = httptools.HttpResponseParser(self)
        self._reset(head=False)

    def _reset(self, *, head: bool) -> None:
        self.head = head
        self.status = 0
        self.headers: RawHeaders = []
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.headers_done = False
        self.complete = False
        self.keep_alive = False
        self.error: Exception | None = None
        self._wake: asyncio.Future[None] | None = None

    def begin(self, *, head: bool) -> None:
        """Get ready to read the response to the next request."""
        self._reset(head=head)

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.error = UpstreamConnectError(f"malformed response: {exc}")
            self._close()
        self._notify()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.headers_done and not self.complete and exc is None and _ends_with_connection(self):
            self.complete = True  # the parser is never told of the end: httptools has no finish()
        if not self.complete and self.error is None:
            self.error = UpstreamConnectError(f"connection closed: {exc or 'by the upstream'}")
        if self._writable is not None:
            self._writable.set()
        self._notify()

    def pause_writing(self) -> None:
        self._writable = asyncio.Event()

    def resume_writing(self) -> None:
        if self._writable is not None:
            self._writable.set()
            self._writable = None

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self.headers = []  # an interim response (100 Continue): the real one follows
            return
        self.status = status
        self.headers_done = True
        if self.head:
            # The parser cannot be told a HEAD response has no body: stop here, never reuse the connection.
            self.complete = True
            self._close()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > _READ_HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        if self.headers_done:
            # Asked now: once the message is over the parser no longer knows.
            self.keep_alive = self.parser.should_keep_alive()
            self.complete = True

    # for the client

    def _notify(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def _close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def wait(self, limit_s: float) -> None:
        """Until more of the response arrives, it ends or fails; UpstreamTimeout after ``limit_s``."""
        if self.error is not None:
            raise self.error
        loop = asyncio.get_running_loop()
        wake = self._wake = loop.create_future()
        # A timer handle of our own: asyncio.timeout costs twice as much, on every read.
        timer = loop.call_later(limit_s, self._expire, wake, limit_s)
        try:
            await wake
        finally:
            timer.cancel()
            self._wake = None

    def _expire(self, wake: asyncio.Future[None], limit_s: float) -> None:
        if not wake.done():
            self._close()
            wake.set_exception(UpstreamTimeout(f"no answer within {limit_s:g} s"))

    def take(self) -> bytes:
        """The body bytes received so far."""
        data = b"".join(self.chunks) if len(self.chunks) != 1 else self.chunks[0]
        self.chunks = []
        if self.buffered > _READ_HIGH_WATER and self.transport is not None and not self.closed:
            self.transport.resume_reading()
        self.buffered = 0
        return data

    async def write(self, data: bytes, limit_s: float) -> None:
        """Send ``data``, waiting (at most ``limit_s``) while the socket's buffer is full."""
        if self.transport is None or self.closed:
            raise self.error or UpstreamConnectError("connection closed")
        self.transport.write(data)
        if self._writable is not None:
            try:
                async with asyncio.timeout(limit_s):
                    await self._writable.wait()
            except TimeoutError as exc:
                self._close()
                raise UpstreamTimeout(f"upstream took no data for {limit_s:g} s") from exc


class _NativeResponse:
    def __init__(self, upstream: NativeUpstream, exchange: _Exchange) -> None:
        self._upstream = upstream
        self._exchange = exchange
        self.status = exchange.status
        self.headers = exchange.headers
        self.content_length = _content_length(exchange.headers)

    async def body(self) -> AsyncIterator[bytes]:
        exchange = self._exchange
        while True:
            if exchange.buffered:
                yield exchange.take()
                continue  # more may have come, and the end, while the consumer had the chunk
            if exchange.complete or (exchange.closed and exchange.error is None):
                return  # (closed without error: a body delimited by the end of the connection)
            await exchange.wait(self._upstream.timeouts.read)

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.body()])

    async def aclose(self) -> None:
        self._upstream.release(self._exchange)


def _ends_with_connection(exchange: _Exchange) -> bool:
    """Whether the response's body runs to the end of the connection (no length, not chunked)."""
    if exchange.status in (204, 304):
        return False
    return not any(
        name.lower() == b"content-length"
        or (name.lower() == b"transfer-encoding" and b"chunked" in value.lower())
        for name, value in exchange.headers
    )


def _content_length(headers: RawHeaders) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class NativeUpstream:
    """Upstream over keep-alive HTTP/1.1 connections of our own (asyncio + httptools' parser).

    A third of aiohttp's CPU per proxied request (measured, docs/PERFORMANCE.md): it does only what a
    reverse proxy needs, and nothing of a general client's cookies, redirects, proxies or tracing.
    """

    def __init__(self, base_url: str, timeouts: Timeouts, max_connections: int) -> None:
        url = URL(base_url)
        if url.scheme != "http" or not url.host:
            raise ValueError(f"the native upstream client speaks plain http:// only, not {base_url!r}")
        self.host = url.host
        self.port = url.port or 80
        self._host_header = url.raw_authority.encode("latin-1")
        self.timeouts = timeouts
        self._idle: list[_Exchange] = []
        self._slots = asyncio.BoundedSemaphore(max_connections)
        self._open: set[_Exchange] = set()

    async def _checkout(self) -> tuple[_Exchange, bool]:
        if self._slots.locked():
            try:
                async with asyncio.timeout(self.timeouts.pool):
                    await self._slots.acquire()
            except TimeoutError as exc:
                raise UpstreamTimeout("no free connection to the upstream") from exc
        else:
            await self._slots.acquire()  # a slot is free: returns at once
        now = time.monotonic()
        while self._idle:
            exchange = self._idle.pop()
            if not exchange.closed and now - exchange.idle_since < _IDLE_S:
                return exchange, True
            self._discard(exchange)
        try:
            async with asyncio.timeout(self.timeouts.connect):
                _, exchange = await asyncio.get_running_loop().create_connection(
                    _Exchange, self.host, self.port
                )
        except TimeoutError as exc:
            self._slots.release()
            raise UpstreamTimeout(f"could not connect within {self.timeouts.connect:g} s") from exc
        except OSError as exc:
            self._slots.release()
            raise UpstreamConnectError(str(exc)) from exc
        self._open.add(exchange)
        return exchange, False

    def _discard(self, exchange: _Exchange) -> None:
        exchange._close()
        self._open.discard(exchange)

    def release(self, exchange: _Exchange) -> None:
        """Back to the pool if its response was read to the end and it may be reused; else closed."""
        if exchange.complete and exchange.keep_alive and not exchange.closed:
            exchange.idle_since = time.monotonic()
            self._idle.append(exchange)
        else:
            self._discard(exchange)
        self._slots.release()

    def _request_head(self, method: str, target: str, headers: RawHeaders, chunked: bool) -> bytes:
        parts = [
            method.encode("latin-1"),
            b" ",
            target.encode("latin-1"),
            b" HTTP/1.1\r\nhost: ",
            self._host_header,
        ]
        for name, value in headers:
            parts += (b"\r\n", name, b": ", value)
        if chunked:
            parts.append(b"\r\ntransfer-encoding: chunked")
        parts.append(b"\r\n\r\n")
        return b"".join(parts)

    async def send(self, method: str, target: str, headers: RawHeaders, body: Body) -> UpstreamResponse:
        """Forward one request; a reused connection the upstream had closed is retried once on a new one."""
        streamed = body is not None and not isinstance(body, bytes)
        chunked = streamed and not any(name.lower() == b"content-length" for name, _ in headers)
        head = self._request_head(method, target, headers, chunked)
        while True:
            exchange, reused = await self._checkout()
            exchange.begin(head=method == "HEAD")
            try:
                await self._send_request(exchange, head, body, chunked)
                while not exchange.headers_done:
                    await exchange.wait(self.timeouts.read)
            except UpstreamConnectError:
                self.release(exchange)
                # Nothing was answered on a connection idle in our pool: the upstream closed it as we
                # wrote. A request without a streamed body can be sent again.
                if reused and not streamed and not exchange.headers_done:
                    continue
                raise
            except BaseException:
                self.release(exchange)
                raise
            return _NativeResponse(self, exchange)

    async def _send_request(self, exchange: _Exchange, head: bytes, body: Body, chunked: bool) -> None:
        write_timeout = self.timeouts.write
        if body is None or isinstance(body, bytes):
            await exchange.write(head + (body or b""), write_timeout)
            return
        await exchange.write(head, write_timeout)
        async for chunk in body:
            if chunk:
                await exchange.write(
                    b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk, write_timeout
                )
        if chunked:
            await exchange.write(b"0\r\n\r\n", write_timeout)

    async def aclose(self) -> None:
        """Close every connection."""
        for exchange in list(self._open):
            self._discard(exchange)
        self._idle.clear()


def make_upstream(
    base_url: str, *, kind: UpstreamClientKind = "native", timeouts: Timeouts, max_connections: int = 100
) -> Upstream:
    """A pooled forwarder to ``base_url`` using the chosen client."""
    if kind == "httpx":
        return HttpxUpstream(base_url, timeouts, max_connections)
    if kind == "aiohttp":
        return AiohttpUpstream(base_url, timeouts, max_connections)
    return NativeUpstream(base_url, timeouts, max_connections)


def _httpx_timeout(timeouts: Timeouts) -> httpx.Timeout:
    return httpx.Timeout(
        connect=timeouts.connect, read=timeouts.read, write=timeouts.write, pool=timeouts.pool
    )


async def _propagate_request_id(request: httpx.Request) -> None:
    request_id = current_request_id()
    if request_id and REQUEST_ID_HEADER not in request.headers:
        request.headers[REQUEST_ID_HEADER] = request_id


def make_service_client(
    base_url: str,
    *,
    timeouts: Timeouts | None = None,
    max_connections: int = 50,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An httpx client for calls to another service; create one per upstream in lifespan.

    ``transport`` replaces the network (tests hand in the other service's app in-process).
    """
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=_httpx_timeout(timeouts or Timeouts()),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        transport=transport or httpx.AsyncHTTPTransport(retries=2),
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


@dataclass(frozen=True)
class JsonAnswer:
    """Another service's answer: status, body (None unless JSON) and headers."""

    status: int
    body: object
    headers: dict[str, str]


async def request_json(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    json: object = None,
    deadline_s: float = 10.0,
) -> JsonAnswer:
    """One JSON call within an overall deadline; UpstreamTimeout / UpstreamConnectError when it fails."""
    try:
        async with asyncio.timeout(deadline_s):
            response = await client.request(method, path, headers=headers, json=json)
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise UpstreamTimeout(f"{method} {path}: no answer within {deadline_s:g} s") from exc
    except httpx.HTTPError as exc:
        raise UpstreamConnectError(f"{method} {path}: {exc}") from exc
    body: object = None
    if "json" in response.headers.get("content-type", ""):
        try:
            body = response.json()
        except ValueError:
            body = None
    return JsonAnswer(response.status_code, body, dict(response.headers))


_ANSWER_KEPT = 512


@dataclass(frozen=True)
class Delivered:
    """What a receiver answered to one delivery: its status and the start of its body (for the log)."""

    status: int
    body: str


# Whether the client may connect to an address (partner webhooks: public addresses only).
AddressCheck = Callable[[str], bool]


class _CheckedResolver(aiohttp.abc.AbstractResolver):
    """The system's resolver, keeping only the addresses a check allows: the address the connection uses is
    the one checked (a host re-pointed at a private address between a check and the connection is refused)."""

    def __init__(self, allow: AddressCheck) -> None:
        self.allow = allow
        self._resolver = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[Any]:
        """The host's addresses the check allows; OSError when none is."""
        allowed = [
            info for info in await self._resolver.resolve(host, port, family) if self.allow(info["host"])
        ]
        if not allowed:
            # With an errno, aiohttp's connection error keeps the reason (the delivery log shows it).
            raise OSError(errno.EACCES, f"refused: {host} resolves to no address deliveries may go to")
        return allowed

    async def close(self) -> None:
        """Close the underlying resolver."""
        await self._resolver.close()


class DeliveryClient:
    """Posts signed event bodies to any URL (subscribers, partner webhooks, the national system).

    Plain ``http://`` destinations (the services inside the cluster) go over the native client, pooled
    per origin: the relay's throughput is this client's CPU per post, and aiohttp's costs twice as much
    (``python -m bench.events``). ``https://`` (partners, the national system) goes over aiohttp.
    Redirects are not followed, so a delivery never lands anywhere it was not sent.
    """

    def __init__(self, *, timeout_s: float, max_connections: int = 100) -> None:
        self.timeout_s = timeout_s
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._checked: dict[AddressCheck, aiohttp.ClientSession] = {}
        self._native: dict[str, NativeUpstream] = {}

    def _new_session(self, allow: AddressCheck | None = None) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=self.max_connections, keepalive_timeout=_IDLE_S,
                resolver=_CheckedResolver(allow) if allow is not None else None,
            ),
            timeout=aiohttp.ClientTimeout(total=self.timeout_s, connect=min(self.timeout_s, 2.0)),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
        )  # fmt: skip

    def _client(self, allow: AddressCheck | None = None) -> aiohttp.ClientSession:
        if allow is not None:
            # Connections are pooled per check: one made under no check is never reused under one.
            session = self._checked.get(allow)
            if session is None or session.closed:
                session = self._checked[allow] = self._new_session(allow)
            return session
        if self._session is None or self._session.closed:
            self._session = self._new_session()
        return self._session

    def _upstream(self, url: URL, limit: float) -> NativeUpstream:
        # Pooled per origin and limit: a destination with a limit of its own gets its own connections.
        origin = f"http://{url.raw_authority}"
        key = f"{origin} {limit:g}"
        upstream = self._native.get(key)
        if upstream is None:
            timeouts = Timeouts(connect=min(limit, 2.0), read=limit, write=limit, pool=limit)
            upstream = self._native[key] = NativeUpstream(origin, timeouts, self.max_connections)
        return upstream

    async def post(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        *,
        timeout_s: float | None = None,
        allow_address: AddressCheck | None = None,
    ) -> Delivered:
        """POST ``body`` within ``timeout_s`` (else the client's limit); UpstreamTimeout / UpstreamConnectError
        when no answer comes back. ``allow_address`` checks the very address the connection goes to."""
        target = URL(url)
        limit = timeout_s or self.timeout_s
        try:
            async with asyncio.timeout(limit):
                if target.scheme == "http" and target.host and allow_address is None:
                    return await self._post_native(target, body, headers, limit)
                return await self._post_aiohttp(url, body, headers, limit, allow_address)
        except TimeoutError as exc:
            raise UpstreamTimeout(f"POST {url}: no answer within {limit:g} s") from exc
        except UpstreamError as exc:
            raise type(exc)(f"POST {url}: {exc}") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamConnectError(f"POST {url}: {exc}") from exc

    async def _post_native(self, url: URL, body: bytes, headers: dict[str, str], limit: float) -> Delivered:
        raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
        raw.append((b"content-length", str(len(body)).encode()))
        response = await self._upstream(url, limit).send("POST", url.raw_path_qs, raw, body)
        try:
            # Read to the end (so the connection is reused: within timeout_s), keeping only its start.
            kept = b""
            async for chunk in response.body():
                if len(kept) < _ANSWER_KEPT:
                    kept += chunk
        finally:
            await response.aclose()
        return Delivered(response.status, kept[:_ANSWER_KEPT].decode("utf-8", "replace"))

    async def _post_aiohttp(
        self, url: str, body: bytes, headers: dict[str, str], limit: float, allow: AddressCheck | None
    ) -> Delivered:
        timeout = aiohttp.ClientTimeout(total=limit, connect=min(limit, 2.0))
        async with self._client(allow).post(
            url, data=body, headers=headers, allow_redirects=False, timeout=timeout
        ) as response:
            text = (await response.content.read(_ANSWER_KEPT)).decode("utf-8", "replace")
            return Delivered(response.status, text)

    async def aclose(self) -> None:
        """Close every connection."""
        for upstream in self._native.values():
            await upstream.aclose()
        self._native.clear()
        for session in [self._session, *self._checked.values()]:
            if session is not None:
                await session.close()
        self._checked.clear()


class AsgiDeliveryClient(DeliveryClient):
    """Delivers to an ASGI app in-process instead of the network (tests; the demo seed's in-process registry)."""

    def __init__(self, app: object, *, timeout_s: float = 60.0) -> None:
        super().__init__(timeout_s=timeout_s)
        self._asgi = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
            base_url="http://in-process", timeout=timeout_s,
        )  # fmt: skip

    async def post(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        *,
        timeout_s: float | None = None,  # noqa: ARG002
        allow_address: AddressCheck | None = None,  # noqa: ARG002
    ) -> Delivered:
        """POST ``body`` to the path of ``url`` in the app (in-process: no limit of its own)."""
        response = await self._asgi.post(URL(url).path, content=body, headers=headers)
        return Delivered(response.status_code, response.text[:512])

    async def aclose(self) -> None:
        """Close the in-process client."""
        await self._asgi.aclose()
