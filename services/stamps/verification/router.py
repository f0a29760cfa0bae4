"""The GS1 resolver routes: ``/01/{gtin}[/10/{lot}]/21/{serial}``, the short ``/v/{serial}``, the description file;
and the page of one scan, ``/s/{token}``, with its consented location.

Public and anonymous: a consumer's phone, an app backend or a partner resolves a stamp. JSON for
``Accept: application/json``; the RFC 9264 linkset for ``linkType=linkset|all`` or
``Accept: application/linkset+json``; a browser is answered 307 to the page of its scan (a reload shows
that scan again and logs none). Every request that names a stamp is logged before it is answered.
"""

from __future__ import annotations

import dataclasses
import math
import secrets
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from services.stamps.traceability import service as traceability
from services.stamps.traceability.schemas import TraceStep
from services.stamps.verification import pages, service
from services.stamps.verification.errors import InvalidLocation, ScanNotLogged, UnknownLinkType
from services.stamps.verification.scanlog import ScanLogUnavailable, Verification
from services.stamps.verification.schemas import ResolverDescription, ScanLocation, VerificationRead
from shared.db import SessionDep
from shared.errors import ProblemError
from shared.schemas import problems

router = APIRouter(tags=["verification"])

LINKSET_MEDIA_TYPE = "application/linkset+json"
# Public answers: any origin may read them (a GS1 resolver SHALL support CORS); never cached, since
# each answer counts the scan it answers.
PUBLIC_HEADERS = {"access-control-allow-origin": "*", "cache-control": "no-store"}
# A page differs by what the client accepts; nosniff keeps a browser from guessing another type.
PAGE_HEADERS = {**PUBLIC_HEADERS, "vary": "accept", "x-content-type-options": "nosniff"}
DEVICE_COOKIE = "ocop_device"
DEVICE_COOKIE_AGE_S = 2 * 365 * 24 * 3600
# A browser gets each of these answers as the verification page (docs/API.md).
PAGE_CONTENT = {"text/html": {"schema": {"type": "string"}}}
MAX_ACCURACY_M = 100_000.0


def _client(request: Request) -> service.Client:
    headers = request.headers
    forwarded = headers.get("x-forwarded-for")
    # The gateway appends the address it saw last: that one is not the client's to forge.
    ip = (
        forwarded.rsplit(",", 1)[-1].strip()
        if forwarded
        else (request.client.host if request.client else None)
    )
    device = headers.get("x-device-id") or request.cookies.get(DEVICE_COOKIE)
    latitude, longitude, accuracy = _location(request)
    return service.Client(ip, device, headers.get("user-agent"), latitude, longitude, accuracy)


def _number(request: Request, name: str, low: float, high: float) -> float | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidLocation(f"query.{name}", "must be a number") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise InvalidLocation(f"query.{name}", f"must be between {low:g} and {high:g}")
    return value


def _location(request: Request) -> tuple[float | None, float | None, float | None]:
    """The consented location an app passes (``lat``, ``lon``, ``accuracy`` in metres), both or neither."""
    if "lat" not in request.query_params and "lon" not in request.query_params:
        return None, None, None
    latitude = _number(request, "lat", -90, 90)
    longitude = _number(request, "lon", -180, 180)
    if (latitude is None) != (longitude is None):
        raise InvalidLocation(
            "query.lat" if latitude is None else "query.lon", "give both lat and lon, or neither"
        )
    return latitude, longitude, _number(request, "accuracy", 0, MAX_ACCURACY_M)


def _raw_path(request: Request, decoded: str) -> str:
    """The path as sent, still percent-encoded: the Digital Link parser decodes each segment once itself."""
    raw = request.scope.get("raw_path")
    return raw.decode("latin-1") if raw else decoded


def _wants_linkset(request: Request) -> bool:
    requested = request.query_params.get("linkType")
    return requested in ("linkset", "all") or LINKSET_MEDIA_TYPE in request.headers.get("accept", "")


def _json(
    body: dict[str, Any], status: int = 200, media_type: str = "application/json", **headers: str
) -> Response:
    return Response(orjson.dumps(body), status, headers={**PUBLIC_HEADERS, **headers}, media_type=media_type)


def _with_pages(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The resolver's documented answers: JSON (problem+json for errors), or a page for a browser."""
    documented = problems(*statuses)
    for status in statuses:
        documented[status]["content"] = PAGE_CONTENT
    return {200: {"content": PAGE_CONTENT}, **documented}


def _wants_page(request: Request) -> bool:
    """A browser (``text/html`` accepted before JSON) gets the page; apps, ``*/*`` and linksets get JSON."""
    if request.query_params.get("linkType") is not None or _wants_linkset(request):
        return False
    accept = request.headers.get("accept", "")
    html, json = accept.find("text/html"), accept.find("application/json")
    return html >= 0 and (json < 0 or html < json)


def _switch_href(request: Request, lang: pages.Lang) -> str:
    """This page in the other language: the same path and query with ``lang`` changed."""
    kept = [(key, value) for key, value in request.query_params.multi_items() if key != "lang"]
    return "?" + urlencode([*kept, ("lang", "vi" if lang == "en" else "en")])


async def _page(request: Request, scanned: service.Scanned) -> Response:
    """A browser's scan: logged, then 307 to the page of that scan (``/s/{token}``); a problem becomes an error
    page with its status."""
    lang = pages.language(request.query_params.get("lang"))
    device: str | None = None
    try:
        client = _client(request)
        if client.device is None:
            # A browser's first scan: it gets a device id, so its later scans count as one device (R6).
            device = secrets.token_urlsafe(18)
            client = dataclasses.replace(client, device=device)
        verification, link = await service.verify(
            request.app.state.scan_log, scanned, client=client, channel="html"
        )
    except ScanLogUnavailable:
        problem = ScanNotLogged("the scan could not be logged; try again in a moment")
        page = pages.render_error(status=503, lang=lang, problem_title=problem.title, detail="", field=None)
        return _html(page, 503, device=None, headers={"retry-after": "2"})
    except ProblemError as problem:
        field = problem.extensions.get("field")
        page = pages.render_error(
            status=problem.status, lang=lang, problem_title=problem.title, detail=problem.detail or "",
            field=field if isinstance(field, str) else None,
        )  # fmt: skip
        return _html(page, problem.status, device=device, headers=problem.headers)
    settings = request.app.state.settings
    key, _ = settings.scan_token_signing()
    token = service.token_of(verification, key=key)
    query = request.url.query
    uri = service.stamp_uri(verification, settings.resolver_host, link)
    response = Response(
        status_code=307,
        headers={
            **PAGE_HEADERS, "location": f"/s/{token}" + (f"?{query}" if query else ""),
            "link": f'<{uri}?linkType=linkset>; rel="linkset"',
        },
    )  # fmt: skip
    _remember(response, device)
    return response


async def _journey(request: Request, verification: Verification) -> list[TraceStep]:
    """The stamp's journey for the page (one statement; pages only, not the JSON answer). A failure to read
    it costs the timeline, never the verdict."""
    facts = verification.facts
    if facts is None or verification.verdict.outcome in ("unknown", "malformed"):
        return []
    return await traceability.journey(
        request.app.state.db, serial=facts.serial, gtin=facts.gtin, lot=facts.lot
    )


def _html(page: str, status: int, *, device: str | None, headers: dict[str, str] | None = None) -> Response:
    response = HTMLResponse(page, status, headers={**PAGE_HEADERS, **(headers or {})})
    _remember(response, device)
    return response


def _remember(response: Response, device: str | None) -> None:
    if device is not None:
        response.set_cookie(
            DEVICE_COOKIE, device, max_age=DEVICE_COOKIE_AGE_S, secure=True, httponly=True, samesite="lax"
        )


async def _answer(request: Request, scanned: service.Scanned) -> Response:
    if _wants_page(request):
        return await _page(request, scanned)
    settings = request.app.state.settings
    linkset = _wants_linkset(request)
    requested = request.query_params.get("linkType")
    channel = "linkset" if linkset or requested else "json"
    client = _client(request)
    try:
        verification, link = await service.verify(
            request.app.state.scan_log, scanned, client=client, channel=channel
        )
    except ScanLogUnavailable as exc:
        raise ScanNotLogged(
            "the scan could not be logged; try again in a moment", headers={"retry-after": "2"}
        ) from exc
    host = settings.resolver_host
    uri = service.stamp_uri(verification, host, link)
    public_base = f"https://{host.lower()}"
    by_type = service.links(verification, uri=uri, public_base=public_base)
    link_header = f'<{uri}?linkType=linkset>; rel="linkset"'
    if linkset:
        return _json(
            service.linkset(uri, by_type), _status(verification), LINKSET_MEDIA_TYPE, link=link_header
        )
    if requested is not None:
        kind = service.link_type(requested)
        if kind is None or kind not in by_type:
            raise UnknownLinkType(f"this stamp has no link of type {requested!r}")
        if kind != "defaultLink":
            return RedirectResponse(
                by_type[kind][0]["href"], 307, headers={**PUBLIC_HEADERS, "link": link_header}
            )
    body = service.verification_body(verification, serial=link.serial, uri=uri)
    return _json(body, _status(verification), link=link_header)


def _status(verification: Verification) -> int:
    return service.status_of(verification)


@router.get(
    "/01/{rest:path}", response_model=VerificationRead, responses=_with_pages(400, 404, 503),
    summary="Verify a stamp by its GS1 Digital Link",
)  # fmt: skip
async def resolve(request: Request, rest: str) -> Response:
    """``/01/{gtin}[/10/{lot}]/21/{serial}``: the stamp's verdict (JSON) or linkset; every scan is logged."""
    return await _answer(request, service.read_path(_raw_path(request, f"/01/{rest}")))


@router.get(
    "/v/{code}", response_model=VerificationRead, responses=_with_pages(400, 404, 503),
    summary="Verify a stamp by its serial (the short link, or a serial typed by hand)",
)  # fmt: skip
async def resolve_short(request: Request, code: str) -> Response:
    """``/v/{serial}``: the same verdict for the serial alone (typed grouped, any case)."""
    return await _answer(request, service.read_short(_raw_path(request, f"/v/{code}")[3:]))


async def answer_path(request: Request) -> Response | None:
    """The answer to a resolver path (``/01/…``, ``/v/{code}``), or None for any other path (the fast path's test)."""
    path: str = request.scope["path"]
    if path.startswith("/01/"):
        return await _answer(request, service.read_path(_raw_path(request, path)))
    if path.startswith("/v/") and "/" not in path[3:] and len(path) > 3:
        return await _answer(request, service.read_short(_raw_path(request, path)[3:]))
    return None


@router.get("/s/{token}", summary="The page of one scan", responses=_with_pages(404, 410))
async def scan_page(request: Request, token: str, session: SessionDep) -> Response:
    """The verification page of the scan a browser was sent to (307 from the resolver): the verdict of that
    scan, logging none; a token that is not ours (404) or has expired (410) is a page saying to scan again."""
    lang = pages.language(request.query_params.get("lang"))
    key, life = request.app.state.settings.scan_token_signing()
    try:
        shown = await service.scan_page(session, token=token, key=key, life=life)
    except ProblemError as problem:
        page = pages.render_error(
            status=problem.status, lang=lang, problem_title=problem.title, detail=problem.detail or "",
            field=None, rescan=True,
        )  # fmt: skip
        return _html(page, problem.status, device=None)
    verification, link = shown.verification, shown.link
    uri = service.stamp_uri(verification, request.app.state.settings.resolver_host, link)
    page = pages.render_verdict(
        verdict=verification.verdict, facts=verification.facts, history=verification.history,
        serial=link.serial, lang=lang, uri=uri, switch_href=_switch_href(request, lang),
        trace=await _journey(request, verification), token=token, located=shown.located,
    )  # fmt: skip
    return _html(page, _status(verification), device=None)


@router.post("/s/{token}/geo", status_code=204, responses=problems(404, 409, 410))
async def scan_locate(request: Request, token: str, body: ScanLocation, session: SessionDep) -> Response:
    """Share the location of the scan whose page this is, with the consumer's consent: once per scan, within
    the token's life; the anomaly rules use it as they use ``?lat=&lon=``."""
    key, life = request.app.state.settings.scan_token_signing()
    await service.locate_scan(
        session,
        token=token,
        key=key,
        life=life,
        latitude=body.lat,
        longitude=body.lon,
        accuracy_m=body.accuracy,
    )
    return Response(status_code=204, headers={"cache-control": "no-store"})


@router.get("/.well-known/gs1resolver", response_model=ResolverDescription)
async def resolver_description(request: Request) -> Response:
    """The GS1 resolver description file."""
    return _json(service.resolver_description(request.app.state.settings.resolver_host))
