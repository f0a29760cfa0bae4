"""docs/EVENTS.md is the one catalogue: every event a service emits or consumes is documented with a valid schema."""

from __future__ import annotations

import uuid
from fnmatch import fnmatchcase

import pytest

from services.registry.entities.events import ENTITY_UPDATED
from services.registry.inbox import HANDLERS as REGISTRY_HANDLERS
from services.registry.national.render import CHANGES as NATIONAL_TYPES
from services.registry.products.events import PRODUCT_UPDATED
from services.scoring.certificates.events import EVENT_OF_STATUS
from services.scoring.inbox import HANDLERS as SCORING_HANDLERS
from services.stamps.anomalies.service import ANOMALY_DETECTED
from services.stamps.inbox import HANDLERS as STAMPS_HANDLERS
from shared import clock
from shared.events.envelope import Envelope
from shared.topology import SUBSCRIPTIONS
from tests.support.event_schemas import CATALOGUE, check_envelope, schemas


def test_every_emitted_and_consumed_type_is_documented() -> None:
    documented = set(schemas())
    emitted = set(EVENT_OF_STATUS.values()) | {PRODUCT_UPDATED, ENTITY_UPDATED, ANOMALY_DETECTED}
    # The national system consumes the catalogue events (services/registry/national): documented too.
    consumed = set(REGISTRY_HANDLERS) | set(SCORING_HANDLERS) | set(STAMPS_HANDLERS) | set(NATIONAL_TYPES)
    assert emitted | consumed <= documented
    text = CATALOGUE.read_text(encoding="utf-8")
    for event_type in documented:
        assert f"| `{event_type}` |" in text, f"{event_type} has no row in the table of event types"


def test_every_subscription_matches_a_documented_type_of_its_source() -> None:
    for source, subscribers in SUBSCRIPTIONS.items():
        for subscriber, patterns in subscribers.items():
            for pattern in patterns:
                assert pattern.startswith(f"{source}."), (source, pattern)
                assert any(fnmatchcase(t, pattern) for t in schemas()), (
                    f"{subscriber} waits for {pattern}: undocumented"
                )


def _certificate(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "certificate_id": str(uuid.uuid4()), "version": 1, "product_id": str(uuid.uuid4()),
        "entity_id": str(uuid.uuid4()), "province_code": "22", "ocop_star": 4, "certificate_number": "OCOP-22-2026-0001",
        "issuing_authority": "Ủy ban nhân dân tỉnh Quảng Ninh", "decision_number": "12/QĐ-UBND",
        "criteria_version": "148+1489", "issued_on": "2026-01-15", "expires_on": "2029-01-15", "level": "province",
        "status": "active", "revocation_ground": None, "superseded_by": None,
    }  # fmt: skip
    return data | changes


def _envelope(data: dict[str, object], subject: str | None = None) -> Envelope:
    return Envelope(
        id=uuid.uuid4(), type="scoring.certificate.issued", occurred_at=clock.now(), source="scoring",
        subject=subject or f"product/{data['product_id']}", data=data,
    )  # fmt: skip


def test_the_check_accepts_a_valid_event_and_names_what_breaks_the_schema() -> None:
    check_envelope(_envelope(_certificate()))
    for bad, where in (
        (_certificate(ocop_star=2), "ocop_star"), (_certificate(level="district", extra=1), "data"),
        (_certificate(status="revoked"), "revocation_ground"), (_certificate(issued_on="15/01/2026"), "issued_on"),
    ):  # fmt: skip
        with pytest.raises(AssertionError, match=where):
            check_envelope(_envelope(bad))
    with pytest.raises(AssertionError, match="subject"):
        check_envelope(_envelope(_certificate(), subject="certificate/1"))
    undocumented = _envelope(_certificate()).model_copy(update={"type": "scoring.council.renamed"})
    with pytest.raises(AssertionError, match="not documented"):
        check_envelope(undocumented)
