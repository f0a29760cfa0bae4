"""The rules of certificates: who issues and revokes, validity, numbers, the lifecycle and its announcement.

A certificate is issued on a decided result (3–5★ only, by the level the result's criteria version
lets decide that star), valid ``validity_months`` from its issue date; it becomes ``expiring``
``expiry_notice_days`` before that and ``expired`` on the day. An upgrade or a re-recognition issues a
new certificate and supersedes the product's current one. Decided certificates are never edited: a
revocation or a supersession is a new state with its own audit entry and its own announcement.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import policies
from services.scoring.applications import service as applications_service
from services.scoring.audit import service as audit
from services.scoring.certificates.errors import (
    CertificateNotFound,
    CertificateStateConflict,
    LevelMayNotCertify,
    ResultNotCertifiable,
)
from services.scoring.certificates.events import emit_changes
from services.scoring.certificates.models import Certificate
from services.scoring.certificates.repository import CertificateFilter, CertificateRepository
from services.scoring.criteria import versions
from services.scoring.registry_copy import service as registry_copy
from shared import clock
from shared.events.envelope import Envelope
from shared.pagination import KeysetPage, decode_cursor
from shared.security.dependencies import Forbidden, require_authenticated
from shared.security.principal import Principal, Role
from shared.security.scopes import Place

logger = logging.getLogger("services.scoring.certificates")

SCHEDULER = Principal(sub="scoring:scheduler", role=Role.service)


@dataclass(frozen=True)
class IssueFacts:
    """What a certificate is issued on: a decided result and the product it rates."""

    product_id: uuid.UUID
    entity_id: uuid.UUID
    province_code: str
    commune_code: str | None
    product_set: int
    product_name: str
    entity_name: str
    star: int
    level: str
    criteria_version: str
    application_id: uuid.UUID | None = None
    result_id: uuid.UUID | None = None


class NamedCertificate:
    """A certificate with the names the registry gives its product and producer now (None: not heard of yet).

    The certificate's own ``product_name`` and ``entity_name`` are the legal record and never change;
    the current names follow the registry's events (services/scoring/registry_copy).
    """

    def __init__(
        self, certificate: Certificate, product_current_name: str | None, entity_current_name: str | None
    ) -> None:
        self.certificate = certificate
        self.product_current_name = product_current_name
        self.entity_current_name = entity_current_name

    def __getattr__(self, name: str) -> Any:
        return getattr(self.certificate, name)


async def _named(session: AsyncSession, certificates: Sequence[Certificate]) -> list[NamedCertificate]:
    """The certificates with their products' and producers' current names (one query per kind)."""
    names = await registry_copy.current_names(
        session,
        product_ids={certificate.product_id for certificate in certificates},
        entity_ids={certificate.entity_id for certificate in certificates},
    )
    return [
        NamedCertificate(c, names.products.get(c.product_id), names.entities.get(c.entity_id))
        for c in certificates
    ]


def _place(certificate: Certificate) -> Place:
    return Place(certificate.entity_id, certificate.commune_code, certificate.province_code)


def can_decide(principal: Principal, *, level: str, province_code: str) -> bool:
    """Province certificates: the province's officers (and admins); central and historical ones: admins."""
    if principal.role is Role.admin:
        return True
    return (
        level == "province"
        and principal.role is Role.province_officer
        and policies.can_read(principal, Place(None, None, province_code))
    )


async def issue_certificate(
    session: AsyncSession,
    *,
    principal: Principal,
    application_id: uuid.UUID,
    decision_number: str,
    issuing_authority: str,
    issued_on: date | None,
) -> NamedCertificate:
    """Issue the certificate of an application's decided result (officers of its province, admins for 5★)."""
    application = await applications_service.get_snapshot(
        session, principal=principal, application_id=application_id
    )
    result = await applications_service.decided_result(session, application_id=application_id)
    if not can_decide(principal, level=result.level, province_code=result.province_code):
        raise Forbidden(f"Only the competent authority decides a {result.level}-level result")
    snapshot = application.snapshot or {}
    facts = IssueFacts(
        product_id=result.product_id, entity_id=result.entity_id, province_code=result.province_code,
        commune_code=application.commune_code, product_set=application.product_set or 0,
        product_name=str(snapshot.get("product", {}).get("name", "")),
        entity_name=str(snapshot.get("entity", {}).get("legal_name", "")),
        star=result.star, level=result.level, criteria_version=result.criteria_version,
        application_id=application_id, result_id=result.id,
    )  # fmt: skip
    issued = await record_issue(
        session, actor=principal, facts=facts, decision_number=decision_number,
        issuing_authority=issuing_authority, issued_on=issued_on or clock.today(),
    )  # fmt: skip
    return (await _named(session, [issued]))[0]


async def record_issue(
    session: AsyncSession,
    *,
    actor: Principal,
    facts: IssueFacts,
    decision_number: str,
    issuing_authority: str,
    issued_on: date,
    status_on: date | None = None,
) -> Certificate:
    """Write a new certificate and supersede the product's current one (the one writer of certificates).

    ``status_on`` is the day its status is judged on (today; the demo loads histories).
    """
    version = versions.regime(facts.criteria_version)
    if facts.star not in version.certifiable_stars:
        raise ResultNotCertifiable(f"A {facts.star}★ result gives no certificate: only 3–5★ are certified")
    if facts.level != version.deciding_level(facts.star):
        raise LevelMayNotCertify(
            f"Under {version.code} a {facts.star}★ certificate is decided at the"
            f" {version.deciding_level(facts.star)} level, not {facts.level}",
            errors=[{"field": "body.application_id", "message": "the result's level may not certify its star",
                     "type": "level"}],
        )  # fmt: skip
    repository = CertificateRepository(session)
    if facts.result_id is not None and await repository.for_result(facts.result_id) is not None:
        raise ResultNotCertifiable("This result already has its certificate", field="body.application_id")
    today = status_on or clock.today()
    expires_on = clock.add_months(issued_on, version.validity_months)
    status = _status_on(today, expires_on, version.expiry_notice_days)
    prefix = facts.province_code if facts.level != "central" else "TW"
    sequence = await repository.next_number(prefix, issued_on.year)
    certificate = Certificate(
        id=uuid.uuid4(), number=f"OCOP-{prefix}-{issued_on.year}-{sequence:04d}", issued_year=issued_on.year,
        issuing_authority=issuing_authority, decision_number=decision_number, star=facts.star,
        level=facts.level, criteria_version=version.code, product_id=facts.product_id,
        entity_id=facts.entity_id, province_code=facts.province_code, commune_code=facts.commune_code,
        product_set=facts.product_set, product_name=facts.product_name, entity_name=facts.entity_name, application_id=facts.application_id,
        result_id=facts.result_id, issued_on=issued_on, expires_on=expires_on, status=status,
        status_changed_on=issued_on, version=1,
    )  # fmt: skip
    superseded = []
    for current in await repository.current_for_product(facts.product_id):
        if current.issued_on > issued_on:
            raise CertificateStateConflict(
                f"The product holds certificate {current.number} issued later, on {current.issued_on}"
            )
        _move(current, "superseded", today)
        current.superseded_by = certificate.id
        superseded.append(current)
        await audit.record(
            session, actor=actor, action="certificate.superseded", subject_type="certificate",
            subject_id=current.id, province_code=current.province_code,
            detail={"superseded_by": str(certificate.id), "number": current.number},
        )  # fmt: skip
    await repository.add(certificate)
    await audit.record(
        session, actor=actor, action="certificate.issued", subject_type="certificate", subject_id=certificate.id,
        province_code=certificate.province_code,
        detail={"number": certificate.number, "star": certificate.star, "level": certificate.level,
                "decision_number": decision_number, "result_id": str(facts.result_id) if facts.result_id else None},
    )  # fmt: skip
    await emit_changes(session, [*superseded, certificate])
    return certificate


def _status_on(today: date, expires_on: date, notice_days: int) -> str:
    if expires_on <= today:
        return "expired"
    return "expiring" if expires_on - timedelta(days=notice_days) <= today else "active"


def _move(certificate: Certificate, status: str, today: date) -> None:
    certificate.status, certificate.status_changed_on = status, today
    certificate.version += 1


async def revoke_certificate(
    session: AsyncSession,
    *,
    principal: Principal,
    certificate_id: uuid.UUID,
    ground: str,
    reason: str,
    decision_number: str | None,
) -> NamedCertificate:
    """Revoke a certificate in force (or expired) for one of the grounds; the authority that could issue it decides."""
    certificate = await _visible_for_update(session, principal, certificate_id)
    if not can_decide(principal, level=certificate.level, province_code=certificate.province_code):
        raise Forbidden(f"Only the competent authority revokes a {certificate.level}-level certificate")
    if certificate.status in ("revoked", "superseded"):
        raise CertificateStateConflict(
            f"Certificate {certificate.number} is {certificate.status}", current_status=certificate.status
        )
    _move(certificate, "revoked", clock.today())
    certificate.revocation_ground, certificate.revocation_reason = ground, reason
    if decision_number is not None:
        certificate.decision_number = decision_number
    await CertificateRepository(session).save(certificate)
    await audit.record(
        session, actor=principal, action="certificate.revoked", subject_type="certificate",
        subject_id=certificate.id, province_code=certificate.province_code,
        detail={"ground": ground, "reason": reason, "decision_number": decision_number},
    )  # fmt: skip
    await emit_changes(session, [certificate])
    return (await _named(session, [certificate]))[0]


async def _visible_for_update(
    session: AsyncSession, principal: Principal, certificate_id: uuid.UUID
) -> Certificate:
    require_authenticated(principal)
    certificate = await CertificateRepository(session).get_for_update(certificate_id)
    if certificate is None or not policies.can_read_results(principal, _place(certificate)):
        raise CertificateNotFound(f"No certificate {certificate_id}")
    return certificate


async def get_certificate(
    session: AsyncSession, *, principal: Principal, certificate_id: uuid.UUID
) -> NamedCertificate:
    """The certificate, if the caller may see it, with its product's and producer's current names."""
    require_authenticated(principal)
    certificate = await CertificateRepository(session).get(certificate_id)
    if certificate is None or not policies.can_read_results(principal, _place(certificate)):
        raise CertificateNotFound(f"No certificate {certificate_id}")
    return (await _named(session, [certificate]))[0]


async def list_certificates(
    session: AsyncSession,
    *,
    principal: Principal,
    limit: int,
    cursor: str | None,
    product_id: uuid.UUID | None = None,
    status: str | None = None,
    star: int | None = None,
) -> KeysetPage[NamedCertificate]:
    """A page of the certificates the caller may see, newest first, with current names."""
    require_authenticated(principal)
    where = CertificateFilter(product_id=product_id, status=status, star=star)
    page = await CertificateRepository(session).list(
        policies.results_visibility(principal),
        where,
        limit=limit,
        after=decode_cursor(cursor, date, uuid.UUID),
    )
    return KeysetPage(await _named(session, page.items), page.next_cursor)


async def lookup(session: AsyncSession, *, number: str) -> NamedCertificate:
    """The public check of a certificate number (anyone; no token needed), with current names."""
    found = await CertificateRepository(session).by_number(number)
    if not found:
        raise CertificateNotFound(f"No certificate numbered {number}")
    return (await _named(session, found[:1]))[0]


async def advance_statuses(session: AsyncSession, *, today: date) -> int:
    """Move certificates along their life for ``today``; idempotent (a second run the same day moves nothing)."""
    repository = CertificateRepository(session)
    moved = []
    for code in await repository.criteria_versions_in_force():
        notice = versions.regime(code).expiry_notice_days
        moved += [
            ("expiring", m)
            for m in await repository.mark_expiring(criteria_version=code, notice_days=notice, today=today)
        ]
    moved += [("expired", m) for m in await repository.mark_expired(today=today)]
    for status, certificate in moved:
        await audit.record(
            session, actor=SCHEDULER, action=f"certificate.{status}", subject_type="certificate",
            subject_id=certificate.id, province_code=certificate.province_code, detail={"on": today.isoformat()},
        )  # fmt: skip
    await emit_changes(session, [certificate for _, certificate in moved])
    return len(moved)


RESEND_PAGE = 1_000


async def resend_certificates(session: AsyncSession, *, envelope: Envelope) -> None:
    """Answer a ``<service>.snapshot.requested``: every certificate's current status, to the asker only."""
    repository = CertificateRepository(session)
    sent, after = 0, None
    while ids := await repository.ids_locked_after(after, RESEND_PAGE):
        await emit_changes(session, await repository.by_ids(ids), destination=envelope.source)
        sent, after = sent + len(ids), ids[-1]
    logger.info("certificates resent to %s: %d", envelope.source, sent)
