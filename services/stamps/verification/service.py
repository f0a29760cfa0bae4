"""Verification: read a scanned link, have it judged and logged, and say what the consumer is shown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast
from urllib.parse import quote, unquote

from sqlalchemy.ext.asyncio import AsyncSession

from services.stamps.anomalies import geography
from services.stamps.verification import tokens
from services.stamps.verification.errors import (
    LocationAlreadyShared,
    MalformedLink,
    ScanTokenExpired,
    ScanTokenInvalid,
)
from services.stamps.verification.repository import LoggedScan, ScanRepository
from services.stamps.verification.scanlog import ScanLog, ScanRequest, Verification
from services.stamps.verification.verdicts import (
    Outcome,
    ScanHistory,
    StampFacts,
    Verdict,
    certificate_verdict,
)
from shared import clock, gs1

GS1_VOC = "https://gs1.org/voc/"
# The link types a stamp's linkset offers (GS1 Web Vocabulary), and what each names here.
LINK_TYPES = ("defaultLink", "pip", "certificationInfo")
PATH_LIMIT = 300


@dataclass(frozen=True, slots=True)
class Scanned:
    """What a request path names: a checked Digital Link, or why it is malformed."""

    link: gs1.DigitalLink | None
    problem: gs1.InvalidIdentifier | None
    path: str


def read_path(path: str) -> Scanned:
    """``/01/{gtin}[/10/{lot}]/21/{serial}`` checked strictly, as a resolver must."""
    try:
        return Scanned(gs1.parse_path(path), None, path)
    except gs1.InvalidIdentifier as problem:
        return Scanned(None, problem, path)


def read_short(code: str) -> Scanned:
    """``/v/{serial}``: a serial as printed or typed (any case, grouped, O for 0, I or L for 1)."""
    serial = gs1.typed_serial(unquote(code))
    problem = gs1.serial_problem(serial)
    if problem is not None:
        return Scanned(None, gs1.InvalidIdentifier("serial", problem), f"/v/{code}")
    return Scanned(gs1.DigitalLink(gtin="", serial=serial), None, f"/v/{code}")


@dataclass(frozen=True, slots=True)
class Client:
    """Who scanned, as far as the request tells: address, device id, user agent, consented location."""

    ip: str | None
    device: str | None
    user_agent: str | None
    latitude: float | None = None
    longitude: float | None = None
    accuracy_m: float | None = None


async def verify(
    scan_log: ScanLog, scanned: Scanned, *, client: Client, channel: str
) -> tuple[Verification, gs1.DigitalLink]:
    """Judge and log one scan; the answer comes once the scan is committed (MalformedLink after logging)."""
    link = scanned.link
    request = ScanRequest(
        serial=link.serial if link is not None else None,
        gtin=(link.gtin or None) if link is not None else None,
        lot=link.lot if link is not None else None,
        path=scanned.path[:PATH_LIMIT] if link is None else None,
        channel=channel, ip=client.ip, device=client.device,
        user_agent=client.user_agent[:PATH_LIMIT] if client.user_agent else None,
        latitude=client.latitude, longitude=client.longitude, accuracy_m=client.accuracy_m,
    )  # fmt: skip
    verification = await scan_log.verify(request)
    if scanned.problem is not None or link is None:
        problem = scanned.problem or gs1.InvalidIdentifier("uri", "not a Digital Link")
        raise MalformedLink(problem.field, problem.message)
    return verification, link


def stamp_uri(verification: Verification, host: str, fallback: gs1.DigitalLink) -> str:
    """The stamp's own Digital Link (its GTIN and lot as issued), upper case as printed."""
    facts = verification.facts
    link = fallback if facts is None else gs1.DigitalLink(gtin=facts.gtin, serial=facts.serial, lot=facts.lot)
    if not link.gtin:
        return f"HTTPS://{host.upper()}/v/{link.serial}"
    return link.uri(host)


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _moment(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def verification_body(verification: Verification, *, serial: str, uri: str) -> dict[str, Any]:
    """The JSON a consumer's app is given (docs/API.md, "Verification")."""
    verdict, facts, history = verification.verdict, verification.facts, verification.history
    body: dict[str, Any] = {
        "outcome": verdict.outcome,
        "reasons": list(verdict.reasons),
        "rules": list(verdict.rules),
        "risk": {"score": verdict.risk, "band": verdict.band},
        "serial": serial,
        "serial_grouped": gs1.grouped(serial),
        "uri": uri,
        "scanned_at": verification.scanned_at.isoformat(),
        "stamp": None,
        "product": None,
        "producer": None,
        "origin": None,
        "certificate": None,
        "verifications": None,
    }
    if facts is not None:
        body["stamp"] = {
            "state": facts.state, "lot": facts.lot, "production_date": _day(facts.production_date),
            "expiry_date": _day(facts.expiry_date), "expired": verdict.expired,
            "activated_at": _moment(facts.activated_at),
        }  # fmt: skip
        body["product"] = {
            "id": str(facts.product_id), "code": facts.product_code, "name": facts.product_name,
            "name_en": facts.product_name_en, "image": facts.image, "gtin": facts.gtin,
        }  # fmt: skip
        body["producer"] = {"id": str(facts.entity_id), "name": facts.producer_name}
        body["origin"] = {
            "commune": facts.commune_name, "province": facts.province_name, "province_code": facts.province_code
        }  # fmt: skip
        certificate = facts.certificate
        if certificate is not None:
            body["certificate"] = {
                "number": certificate.number, "star": certificate.star, "level": certificate.level,
                "status": certificate.status, "verdict": verdict.certificate_verdict,
                "issued_on": _day(certificate.issued_on), "expires_on": _day(certificate.expires_on),
                "issuing_authority": certificate.issuing_authority,
            }  # fmt: skip
    if history is not None:
        body["verifications"] = {
            "count": history.count, "first_at": history.first_at.isoformat(),
            "first_province": history.first_province, "you_are_first": history.is_first,
        }  # fmt: skip
    return body


def status_of(verification: Verification) -> int:
    """404 for a code that is no stamp of ours (a resolver knows no such key), 200 for every stamp."""
    return 404 if verification.verdict.outcome == "unknown" else 200


def links(verification: Verification, *, uri: str, public_base: str) -> dict[str, list[dict[str, Any]]]:
    """The stamp's links by GS1 link type: the verification page (default), the product page, the certificate."""
    serial = verification.facts.serial if verification.facts is not None else None
    result: dict[str, list[dict[str, Any]]] = {
        "defaultLink": [
            {"href": uri, "title": "Xác thực tem OCOP / OCOP stamp verification", "type": "text/html",
             "hreflang": ["vi", "en"]},
        ],
    }  # fmt: skip
    facts = verification.facts
    if facts is not None and serial is not None:
        result["pip"] = [
            {"href": f"{public_base}/v1/catalogue/{facts.product_id}", "title": facts.product_name or "",
             "type": "application/json"},
        ]  # fmt: skip
        if facts.certificate is not None:
            number = quote(facts.certificate.number, safe="")
            result["certificationInfo"] = [
                {"href": f"{public_base}/v1/certificates/lookup?number={number}",
                 "title": f"OCOP {facts.certificate.star}★ {facts.certificate.number}", "type": "application/json"},
            ]  # fmt: skip
    return result


def linkset(anchor: str, by_type: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """An RFC 9264 linkset (application/linkset+json) with GS1 Web Vocabulary link types."""
    return {"linkset": [{"anchor": anchor, **{GS1_VOC + kind: targets for kind, targets in by_type.items()}}]}


def link_type(requested: str) -> str | None:
    """A ``linkType`` query value (``gs1:pip``, ``pip`` or the full URI) as its GS1 term, None if unknown."""
    for prefix in (GS1_VOC, "http://gs1.org/voc/", "gs1:"):
        if requested.startswith(prefix):
            requested = requested[len(prefix) :]
            break
    return requested if requested in LINK_TYPES else None


def resolver_description(host: str) -> dict[str, Any]:
    """The resolver description file served at ``/.well-known/gs1resolver`` (GS1 resolver standard)."""
    return {
        "name": "OCOP e-stamp resolver",
        "resolverRoot": f"https://{host.lower()}",
        "supportedPrimaryKeys": ["01"],
        "supportedLinkType": [{"namespace": GS1_VOC, "prefix": "gs1:"}],
        "linkTypeDefaultCanBeLinkset": False,
        "linkTypeDefaultCanBeAll": False,
        "validatesAIcombination": True,
        "supportedLinkTypes": [GS1_VOC + kind for kind in LINK_TYPES],
        "shortLink": f"https://{host.lower()}/v/{{serial}}",
    }


# A scan's page (/s/{token}): the browser's scan is answered with a 307 there, so a reload shows that scan
# again and logs none.


def token_of(verification: Verification, *, key: bytes) -> str:
    """The token of the page of the scan ``verification`` answers."""
    return tokens.issue(key, verification.scan_id, verification.scanned_at)


@dataclass(frozen=True, slots=True)
class ScanPage:
    """What the page of one scan shows: its verification as judged then, and whether it has a location."""

    verification: Verification
    link: gs1.DigitalLink
    located: bool


async def _logged(repository: ScanRepository, token: str, *, key: bytes, life: timedelta) -> LoggedScan:
    try:
        named = tokens.read(key, token, now=clock.now(), life=life)
    except tokens.ExpiredScanToken:
        raise ScanTokenExpired("scan the stamp again to verify it") from None
    except tokens.InvalidScanToken:
        raise ScanTokenInvalid("this is no scan of ours; scan the stamp again") from None
    logged = await repository.scan(named.id, named.scanned_at)
    # Tokens are issued for the scans of a stamp's serial only (a malformed link gets its error page).
    if logged is None or logged.serial is None:
        raise ScanTokenInvalid("this is no scan of ours; scan the stamp again")
    return logged


async def scan_page(session: AsyncSession, *, token: str, key: bytes, life: timedelta) -> ScanPage:
    """The verification of the scan ``token`` names, as it was judged (logs nothing): the verdict, reasons
    and risk of that scan, the stamp's facts, and its count of verifications as that scan made it."""
    repository = ScanRepository(session)
    logged = await _logged(repository, token, key=key, life=life)
    serial = cast(str, logged.serial)
    day = clock.vietnam_date(logged.scanned_at)
    facts = await repository.facts(serial, day) if logged.verdict != "unknown" else None
    history = None
    if facts is not None:
        count = await repository.count_until(serial, logged.id)
        history = ScanHistory(count, facts.first_scanned_at or logged.scanned_at, facts.first_scan_province)
    verdict = Verdict(
        cast(Outcome, logged.verdict), logged.reasons, logged.rules, logged.risk,
        certificate_verdict(facts.certificate if facts else None, day), "R12" in logged.rules,
    )  # fmt: skip
    verification = Verification(verdict, facts, history, logged.scanned_at, logged.id)
    link = gs1.DigitalLink(gtin=logged.gtin or "", serial=serial, lot=logged.lot)
    return ScanPage(verification, link, logged.located)


async def locate_scan(
    session: AsyncSession, *, token: str, key: bytes, life: timedelta, latitude: float, longitude: float,
    accuracy_m: float | None,
) -> None:  # fmt: skip
    """Store the location the consumer consented to share on the scan ``token`` names: once per scan, within
    the token's life. The anomaly detector examines the scan again with it (as it does ``?lat=&lon=``)."""
    repository = ScanRepository(session)
    logged = await _logged(repository, token, key=key, life=life)
    province = geography.province_at(latitude, longitude)
    located = await repository.locate(
        logged.id, logged.scanned_at, latitude=latitude, longitude=longitude, accuracy_m=accuracy_m,
        province_code=province, at=clock.now(),
    )  # fmt: skip
    if not located:
        raise LocationAlreadyShared("a scan's location is shared once")


async def scanned_serial(session: AsyncSession, *, token: str, key: bytes, life: timedelta) -> LoggedScan:
    """The scan ``token`` names (for a report sent from its page); ScanTokenInvalid or ScanTokenExpired."""
    return await _logged(ScanRepository(session), token, key=key, life=life)


async def stamp_facts(session: AsyncSession, *, serial: str) -> StampFacts | None:
    """What is known of the stamp ``serial`` today (None: no stamp of ours), for another package's rules."""
    return await ScanRepository(session).facts(serial, clock.today())
