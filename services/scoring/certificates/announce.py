"""The one function that tells the registry about a certificate (the integration-events issue swaps its transport).

The registry's ``/internal/certifications`` records each event once by its id, so the id is derived
from the certificate and its version: a retry of the same state is the same event.
"""

from __future__ import annotations

import uuid
from typing import Any

from services.scoring.certificates.models import Certificate
from services.scoring.criteria.versions import VERSIONS
from services.scoring.registry import RegistryClient
from shared.errors import ProblemError

EVENTS = uuid.UUID("0f6f4a52-3c1e-4d8e-9b7a-5e2c8d1f6a30")


class AnnouncementRefused(ProblemError):
    """The registry refused the event (4xx): retrying later may still succeed once the cause is fixed."""

    status = 502
    type = "registry-refused-certificate"
    title = "The registry refused the certificate"


def event_id(certificate: Certificate) -> uuid.UUID:
    """The event's id: one per certificate and version."""
    return uuid.uuid5(EVENTS, f"{certificate.id}:{certificate.version}")


def announcement(certificate: Certificate) -> dict[str, Any]:
    """The registry's certification event for the certificate's current state."""
    # The registry knows the national versions; the provincial programmes before them are its "none".
    national_version = certificate.criteria_version if certificate.criteria_version in VERSIONS else None
    ground = None
    if certificate.status == "revoked":
        ground = f"{certificate.revocation_ground}: {certificate.revocation_reason}"[:1000]
    return {
        "event_id": str(event_id(certificate)),
        "product_id": str(certificate.product_id),
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
    }


async def announce(registry: RegistryClient, certificate: Certificate) -> None:
    """Tell the registry; RegistryUnavailable when it cannot be reached, AnnouncementRefused on a 4xx."""
    answer = await registry.call("POST", "/internal/certifications", json=announcement(certificate))
    if answer.status != 200:
        raise AnnouncementRefused(f"the registry answered {answer.status}: {answer.body}")
