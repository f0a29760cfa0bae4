"""Keeping the snapshot, and what it says of a product today.

The registry announces every change of a product or a producer (``registry.product.updated``,
``registry.entity.updated``) and scoring every change of a certificate (``scoring.certificate.*``),
each with the record as it then stands and a growing ``version`` (docs/EVENTS.md). Events arrive at
least once and a replayed dead letter may come late, so each record keeps the data with the largest
version. Batch requests and verification read this snapshot and never call another service.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.stamps.outbox import OUTBOX
from services.stamps.snapshot.errors import SnapshotEventInvalid
from services.stamps.snapshot.repository import CERTIFICATES, ENTITIES, PRODUCTS, SnapshotRepository
from services.stamps.snapshot.schemas import (
    CertificateData,
    Certification,
    CurrentCertificate,
    EntityData,
    ProductData,
    Verdict,
)
from shared import clock
from shared.events.envelope import Envelope

D = TypeVar("D", bound=BaseModel)


def _read(schema: type[D], envelope: Envelope, kind: str, id_field: str) -> D:
    try:
        data = schema.model_validate(envelope.data)
    except ValidationError as exc:
        raise SnapshotEventInvalid(
            f"Event {envelope.id} ({envelope.type}) carries invalid data",
            errors=[
                {"field": ".".join(["data", *map(str, e["loc"])]), "message": e["msg"]} for e in exc.errors()
            ],
        ) from exc
    if envelope.subject != f"{kind}/{getattr(data, id_field)}":
        message = (
            f"Event {envelope.id} is about {envelope.subject} but carries {kind} {getattr(data, id_field)}"
        )
        raise SnapshotEventInvalid(message, errors=[{"field": f"data.{id_field}", "message": message}])
    return data


async def apply_product_event(session: AsyncSession, *, envelope: Envelope) -> None:
    """Keep a ``registry.product.updated`` snapshot unless a newer one of the product is held."""
    data = _read(ProductData, envelope, "product", "id")
    values = data.model_dump(exclude={"updated_at"}) | {"registry_updated_at": data.updated_at}
    await SnapshotRepository(session).keep_newer(PRODUCTS, values)


async def apply_entity_event(session: AsyncSession, *, envelope: Envelope) -> None:
    """Keep a ``registry.entity.updated`` producer's name unless a newer one is held."""
    data = _read(EntityData, envelope, "entity", "id")
    values = {"id": data.id, "version": data.version, "legal_name": data.legal_name,
              "registry_updated_at": data.updated_at}  # fmt: skip
    await SnapshotRepository(session).keep_newer(ENTITIES, values)


async def apply_certificate_event(session: AsyncSession, *, envelope: Envelope) -> None:
    """Keep a ``scoring.certificate.*`` certificate unless a newer state of it is held."""
    data = _read(CertificateData, envelope, "product", "product_id")
    values = {
        "id": data.certificate_id, "version": data.version, "product_id": data.product_id,
        "number": data.certificate_number, "star": data.ocop_star, "level": data.level, "status": data.status,
        "issued_on": data.issued_on, "expires_on": data.expires_on, "issuing_authority": data.issuing_authority,
        "revocation_ground": data.revocation_ground, "superseded_by": data.superseded_by,
    }  # fmt: skip
    await SnapshotRepository(session).keep_newer(CERTIFICATES, values)


def verdict(certificate: CurrentCertificate | None, today: date) -> Verdict:
    """Whether a product whose current certificate is ``certificate`` is certified on ``today``."""
    if certificate is None:
        return "none"
    if certificate.status == "revoked":
        return "revoked"
    if certificate.status == "superseded":
        # Its successor's ``issued`` has not arrived yet: nothing in force is known.
        return "none"
    # A certificate past its date has expired even before scoring's daily job says so.
    if certificate.status == "expired" or certificate.expires_on < today:
        return "expired"
    return "expiring" if certificate.status == "expiring" else "certified"


def _certificate(row: Any) -> CurrentCertificate | None:
    if row.c_id is None:
        return None
    return CurrentCertificate(
        id=row.c_id, number=row.c_number, star=row.c_star, level=row.c_level, status=row.c_status,
        issued_on=row.c_issued_on, expires_on=row.c_expires_on, issuing_authority=row.c_issuing_authority,
        revocation_ground=row.c_revocation_ground,
    )  # fmt: skip


async def certification_of(session: AsyncSession, product_id: uuid.UUID, today: date) -> Certification | None:
    """The product as the snapshot holds it, its current certificate and verdict on ``today`` (None: unknown)."""
    row = await SnapshotRepository(session).certification(product_id, today)
    if row is None:
        return None
    certificate = _certificate(row)
    return Certification(
        product_id=row.id, name=row.name, name_en=row.name_en, gtin=row.gtin,
        image=row.images[0] if row.images else None, images=list(row.images), product_status=row.status,
        entity_id=row.entity_id, entity_name=row.entity_name, commune_code=row.commune_code,
        commune_name=row.commune_name, province_code=row.province_code, province_name=row.province_name,
        certificate=certificate, verdict=verdict(certificate, today),
    )  # fmt: skip


SNAPSHOT_REQUESTED = "stamps.snapshot.requested"
# A request unanswered this long is made again at the next start.
REQUEST_AGAIN_AFTER = timedelta(hours=1)


async def request_full_copy_if_empty(session: AsyncSession) -> bool:
    """At start-up with an empty snapshot, ask the registry and scoring for everything as it stands.

    The answer arrives as ordinary ``registry.*.updated`` and ``scoring.certificate.*`` events addressed
    to this service alone; whether a request went out.
    """
    if not await SnapshotRepository(session).is_empty():
        return False
    if await OUTBOX.emitted_since(session, type=SNAPSHOT_REQUESTED, since=clock.now() - REQUEST_AGAIN_AFTER):
        return False
    await OUTBOX.emit(
        session, type=SNAPSHOT_REQUESTED, subject="snapshot/stamps",
        data={"wants": ["registry.entity.updated", "registry.product.updated", "scoring.certificate.*"]},
    )  # fmt: skip
    return True


async def stampable_products(session: AsyncSession, *, today: date, limit: int) -> list[uuid.UUID]:
    """Up to ``limit`` products that could get stamps today (a GTIN, a certificate in force), by name."""
    return await SnapshotRepository(session).certified_with_gtin(today, limit)


async def owners_of_gtins(session: AsyncSession, *, gtins: list[str]) -> dict[str, tuple[uuid.UUID, str]]:
    """The producer (entity id) and province code of each GTIN-14 the snapshot knows; unknown GTINs are absent."""
    return await SnapshotRepository(session).owners_of_gtins(sorted(set(gtins)))


async def province_of_entity(session: AsyncSession, *, entity_id: uuid.UUID) -> str | None:
    """The province code of a producer, as its products in the snapshot say (None if none is known)."""
    return await SnapshotRepository(session).province_of_entity(entity_id)


async def commune(session: AsyncSession, *, commune_code: str) -> tuple[str, str] | None:
    """A commune's name and province code as the registry last named them on a product there (None: unknown)."""
    return await SnapshotRepository(session).commune(commune_code)
