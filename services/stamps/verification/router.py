"""The GS1 resolver routes: ``/01/{gtin}[/10/{lot}]/21/{serial}``, the short ``/v/{serial}``, the description file.

Public and anonymous: a consumer's phone, an app backend or a partner resolves a stamp. JSON for
``Accept: application/json``; the RFC 9264 linkset for ``linkType=linkset|all`` or
``Accept: application/linkset+json``. Every request that names a stamp is logged before it is answered.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from services.stamps.verification import service
from services.stamps.verification.errors import InvalidLocation, ScanNotLogged, UnknownLinkType
from services.stamps.verification.scanlog import ScanLogUnavailable, Verification
from services.stamps.verification.schemas import ResolverDescription, VerificationRead
from shared.schemas import problems

router = APIRouter(tags=["verification"])

LINKSET_MEDIA_TYPE = "application/linkset+json"
# Public answers: any origin may read them (a GS1 resolver SHALL support CORS); never cached, since
# each answer counts the scan it answers.
PUBLIC_HEADERS = {"access-control-allow-origin": "*", "cache-control": "no-store"}
DEVICE_COOKIE = "ocop_device"
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


async def _answer(request: Request, scanned: service.Scanned) -> Response:
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
    "/01/{rest:path}", response_model=VerificationRead, responses=problems(400, 404, 503),
    summary="Verify a stamp by its GS1 Digital Link",
)  # fmt: skip
async def resolve(request: Request, rest: str) -> Response:
    """``/01/{gtin}[/10/{lot}]/21/{serial}``: the stamp's verdict (JSON) or linkset; every scan is logged."""
    return await _answer(request, service.read_path(_raw_path(request, f"/01/{rest}")))


@router.get(
    "/v/{code}", response_model=VerificationRead, responses=problems(400, 404, 503),
    summary="Verify a stamp by its serial (the short link, or a serial typed by hand)",
)  # fmt: skip
async def resolve_short(request: Request, code: str) -> Response:
    """``/v/{serial}``: the same verdict for the serial alone (typed grouped, any case)."""
    return await _answer(request, service.read_short(_raw_path(request, f"/v/{code}")[3:]))


@router.get("/.well-known/gs1resolver", response_model=ResolverDescription)
async def resolver_description(request: Request) -> Response:
    """The GS1 resolver description file."""
    return _json(service.resolver_description(request.app.state.settings.resolver_host))
