"""Consumer reports: who may send one (anyone), what it must name, who reads and who closes it."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.stamps import policies
from services.stamps.outbox import OUTBOX
from services.stamps.reports.errors import (
    PhotoTooLarge,
    ReportAlreadyResolved,
    ReportNotFound,
    UnsupportedPhotoType,
)
from services.stamps.reports.models import ConsumerReport
from services.stamps.reports.repository import ReportRepository
from services.stamps.reports.schemas import ReportCreate, ReportFilter
from services.stamps.verification import service as verification
from shared import clock, gs1, images
from shared.errors import InvalidField, ProblemError
from shared.pagination import KeysetPage, decode_cursor
from shared.security.dependencies import Forbidden, require_authenticated
from shared.security.principal import Principal
from shared.security.scopes import Place

COUNTERFEIT_REPORT_RECEIVED = "stamps.counterfeit_report.received"


def _place(report: ConsumerReport) -> Place:
    return Place(entity_id=report.entity_id, province_code=report.province_code)


def _serial(typed: str) -> str:
    serial = gs1.typed_serial(typed)
    problem = gs1.serial_problem(serial)
    if problem is not None:
        raise InvalidField("body.serial", problem)
    return serial


def _photo_type(photo: bytes) -> str:
    if len(photo) > images.MAX_IMAGE_BYTES:
        raise PhotoTooLarge(
            f"photos are limited to {images.MAX_IMAGE_BYTES // (1024 * 1024)} MiB", field="photo"
        )
    media_type = images.image_type(photo)
    if media_type is None:
        raise UnsupportedPhotoType("send a JPEG, PNG or WebP photo", field="photo")
    return media_type


async def create_report(
    session: AsyncSession, *, data: ReportCreate, photo: bytes | None, token_key: bytes, token_life: timedelta
) -> ConsumerReport:
    """Store a consumer's report (anyone may send one) about the stamp of a scan's page (``token``) or a typed
    serial; it goes to the officers of the stamp's province (else of where the scan was) and its producer.
    ``stamps.counterfeit_report.received`` is emitted in the same transaction."""
    photo_type = _photo_type(photo) if photo else None
    scan_id: int | None = None
    scanned_at: datetime | None = None
    located_in: str | None = None
    if data.token is not None:
        try:
            logged = await verification.scanned_serial(
                session, token=data.token, key=token_key, life=token_life
            )
        except ProblemError as problem:
            raise InvalidField(
                "body.token", f"{problem.title}: scan the stamp again or give its serial"
            ) from None
        serial = logged.serial or ""
        if data.serial is not None and _serial(data.serial) != serial:
            raise InvalidField("body.serial", "names another stamp than the scan token")
        scan_id, scanned_at, located_in = logged.id, logged.scanned_at, logged.province_code
    elif data.serial is not None:
        serial = _serial(data.serial)
    else:
        raise InvalidField("body.serial", "give the scan token of the page or the stamp's serial")
    facts = await verification.stamp_facts(session, serial=serial)
    report = ConsumerReport(
        id=uuid.uuid4(), serial=serial, scan_id=scan_id, scanned_at=scanned_at, kind=data.kind,
        description=data.description, shop_name=data.shop_name, shop_address=data.shop_address, photo=photo or None,
        photo_type=photo_type, batch_id=facts.batch_id if facts else None,
        product_id=facts.product_id if facts else None, entity_id=facts.entity_id if facts else None,
        province_code=facts.province_code if facts else located_in, status="open",
    )  # fmt: skip
    report = await ReportRepository(session).add(report)
    await OUTBOX.emit(
        session, type=COUNTERFEIT_REPORT_RECEIVED, subject=f"counterfeit_report/{report.id}",
        data=event_data(report, gtin=facts.gtin if facts else None),
    )  # fmt: skip
    return report


def event_data(report: ConsumerReport, *, gtin: str | None) -> dict[str, Any]:
    """The ``stamps.counterfeit_report.received`` data: what is reported about which stamp, nothing of who reports it."""

    def text(value: uuid.UUID | None) -> str | None:
        return None if value is None else str(value)

    # Left out on purpose (docs/EVENTS.md): the description and the shop, free text that may name people;
    # the photo; the scan, whose row links the report to a device, an address and a shared location.
    return {
        "report_id": str(report.id), "serial": report.serial or None, "gtin": gtin,
        "batch_id": text(report.batch_id), "product_id": text(report.product_id),
        "entity_id": text(report.entity_id), "province_code": report.province_code, "kind": report.kind,
        "has_photo": report.photo_type is not None, "received_at": report.created_at.isoformat(),
    }  # fmt: skip


async def list_reports(
    session: AsyncSession, *, principal: Principal, where: ReportFilter, limit: int, cursor: str | None
) -> KeysetPage[ConsumerReport]:
    """The reports the caller may see (an officer its province's, a producer its products'), newest first."""
    require_authenticated(principal)
    return await ReportRepository(session).list(
        policies.visibility(principal), where, after=decode_cursor(cursor, datetime, uuid.UUID), limit=limit
    )


async def get_report(session: AsyncSession, *, principal: Principal, report_id: uuid.UUID) -> ConsumerReport:
    """One report the caller may see; otherwise ReportNotFound (no hint that it exists)."""
    require_authenticated(principal)
    report = await ReportRepository(session).get(report_id)
    if report is None or not policies.can_read(principal, _place(report)):
        raise ReportNotFound(f"No report {report_id}")
    return report


async def report_photo(
    session: AsyncSession, *, principal: Principal, report_id: uuid.UUID
) -> tuple[bytes, str]:
    """The photo of a report the caller may see, and its media type; ReportNotFound if it has none."""
    report = await get_report(session, principal=principal, report_id=report_id)
    photo = await ReportRepository(session).photo(report_id) if report.photo_type else None
    if photo is None or report.photo_type is None:
        raise ReportNotFound(f"Report {report_id} has no photo")
    return photo, report.photo_type


async def resolve_report(
    session: AsyncSession, *, principal: Principal, report_id: uuid.UUID, note: str
) -> ConsumerReport:
    """Close an open report with the reviewer's note: an officer of its province, or an admin."""
    require_authenticated(principal)
    repository = ReportRepository(session)
    report = await repository.get_for_update(report_id)
    if report is None or not policies.can_read(principal, _place(report)):
        raise ReportNotFound(f"No report {report_id}")
    if not policies.can_resolve_report(principal, _place(report)):
        raise Forbidden("A report is resolved by an officer of its province.")
    if report.status != "open":
        raise ReportAlreadyResolved(f"Report {report_id} was resolved by {report.resolved_by}")
    report.status, report.resolved_by, report.resolved_at = "resolved", principal.sub, clock.now()
    report.resolution_note = note
    return await repository.save(report)
