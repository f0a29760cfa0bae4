"""The certificate's integration events: ``scoring.certificate.<issued|superseded|expiring|expired|revoked>``.

Each change of a certificate emits one event in the same transaction, about the subject
``product/<product id>`` (a product's certificates reach every consumer in the order they changed).
The data is the certificate as it now stands; docs/EVENTS.md has its JSON Schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.certificates.models import Certificate
from services.scoring.criteria.versions import VERSIONS
from services.scoring.outbox import OUTBOX

EVENT_OF_STATUS = {
    "active": "scoring.certificate.issued",
    "superseded": "scoring.certificate.superseded",
    "expiring": "scoring.certificate.expiring",
    "expired": "scoring.certificate.expired",
    "revoked": "scoring.certificate.revoked",
}


def certificate_data(certificate: Certificate) -> dict[str, Any]:
    """The event's data: the certificate's facts and current status."""
    # The registry knows the national versions; the provincial programmes before them are its "none".
    national_version = certificate.criteria_version if certificate.criteria_version in VERSIONS else None
    ground = None
    if certificate.status == "revoked":
        ground = f"{certificate.revocation_ground}: {certificate.revocation_reason}"[:1000]
    return {
        "certificate_id": str(certificate.id),
        "version": certificate.version,
        "product_id": str(certificate.product_id),
        "entity_id": str(certificate.entity_id),
        "province_code": certificate.province_code,
        "ocop_star": certificate.star,
        "certificate_number": certificate.number,
        "issuing_authority": certificate.issuing_authority,
        "decision_number": certificate.decision_number,
        "criteria_version": national_version,
        "issued_on": certificate.issued_on.isoformat(),
        "expires_on": certificate.expires_on.isoformat(),
        "level": certificate.level,
        "status": certificate.status,
        "revocation_ground": ground,
        "superseded_by": str(certificate.superseded_by) if certificate.superseded_by else None,
    }


async def emit_changes(
    session: AsyncSession, certificates: Sequence[Certificate], *, destination: str | None = None
) -> None:
    """Emit one event per certificate for its current status, in the order given (to ``destination`` only)."""
    envelopes = [
        OUTBOX.envelope(
            type=EVENT_OF_STATUS[certificate.status],
            subject=f"product/{certificate.product_id}",
            data=certificate_data(certificate),
        )
        for certificate in certificates
    ]
    if destination is None:
        await OUTBOX.emit_many(session, envelopes)
    else:
        await OUTBOX.emit_many_to(session, envelopes, destination)
