"""What a consumer is told about a scanned stamp: pure functions of what the stamps service knows.

The synchronous rules of TRACEABILITY §4.6 live here (R0 malformed, R1 never issued, R2 not activated,
R3 revoked or void, R4 scanned before activation, R12 past its expiry date); the rules over scan
histories (R5–R11) run in the anomaly detector, which leaves its result in ``stamp_risk`` for the next
verification to read. Nothing here touches the database or the clock: callers pass ``today``/``now``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

Outcome = Literal["genuine", "caution", "suspected", "revoked", "not_activated", "unknown", "malformed"]
Band = Literal["normal", "caution", "suspected"]
CertificateVerdict = Literal["certified", "expiring", "expired", "revoked", "none"]

OUTCOMES: tuple[Outcome, ...] = (
    "genuine", "caution", "suspected", "revoked", "not_activated", "unknown", "malformed",
)  # fmt: skip
# Rule scores (TRACEABILITY §4.6); a score of 70 or more is "high".
RULE_SCORES: dict[str, int] = {
    "R0": 0, "R1": 80, "R2": 70, "R3": 90, "R4": 70, "R5": 75, "R6": 50, "R7": 40, "R8": 30,
    "R9": 50, "R10": 70, "R11": 50, "R12": 0,
}  # fmt: skip
HIGH = 70
CAUTION = 40
# Clocks of a producer's phone and of our servers disagree by this much without it meaning anything.
ACTIVATION_TOLERANCE = timedelta(minutes=5)
# Certificate statuses in force (scoring's ``active`` and ``expiring``).
IN_FORCE = ("active", "expiring")


@dataclass(frozen=True, slots=True)
class Certificate:
    """The product's current OCOP certificate as the snapshot holds it."""

    number: str
    star: int
    level: str
    status: str
    issued_on: date
    expires_on: date
    issuing_authority: str
    revocation_ground: str | None


@dataclass(frozen=True, slots=True)
class StampFacts:
    """Everything the verification reads about one stamp, in one statement (see repository.FACTS)."""

    serial: str
    batch_id: uuid.UUID
    gtin: str
    state: str
    lot: str | None
    production_date: date | None
    expiry_date: date | None
    activated_at: datetime | None
    product_id: uuid.UUID
    entity_id: uuid.UUID
    product_code: str | None
    product_name: str | None
    product_name_en: str | None
    image: str | None
    producer_name: str | None
    commune_name: str | None
    province_code: str
    province_name: str | None
    certificate: Certificate | None
    # Before this scan: how often and since when the stamp has been verified.
    scan_count: int
    first_scanned_at: datetime | None
    first_scan_province: str | None
    # What the anomaly detector last concluded from the stamp's scan history.
    risk_score: int
    risk_rules: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ScanHistory:
    """How often the stamp has been verified, this scan included."""

    count: int
    first_at: datetime
    first_province: str | None

    @property
    def is_first(self) -> bool:
        """This scan is the stamp's first verification ("you are the first to verify this product")."""
        return self.count == 1


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer for one scan: the outcome, why, the rules fired and the risk with its band."""

    outcome: Outcome
    reasons: tuple[str, ...]
    rules: tuple[str, ...]
    risk: int
    certificate_verdict: CertificateVerdict
    expired: bool

    @property
    def band(self) -> Band:
        """The risk band: under 40 normal, 40–69 caution, 70 and above suspected."""
        return band_of(self.risk)


MALFORMED = Verdict("malformed", ("malformed",), ("R0",), 0, "none", False)


def band_of(risk: int) -> Band:
    """TRACEABILITY §4.6: < 40 normal, 40–69 caution, ≥ 70 suspected counterfeit."""
    if risk >= HIGH:
        return "suspected"
    return "caution" if risk >= CAUTION else "normal"


def risk_of(rules: Iterable[str], *, scores: dict[str, int] = RULE_SCORES, extra: Iterable[int] = ()) -> int:
    """The highest score of the rules fired, plus 10 for each further high one, at most 100."""
    values = sorted([scores[rule] for rule in rules] + list(extra), reverse=True)
    if not values:
        return 0
    bonus = 10 * sum(1 for value in values[1:] if value >= HIGH)
    return min(100, values[0] + bonus)


def certificate_verdict(certificate: Certificate | None, today: date) -> CertificateVerdict:
    """Whether the product is certified on ``today`` (the same rule as snapshot.service.verdict)."""
    if certificate is None or certificate.status == "superseded":
        return "none"
    if certificate.status == "revoked":
        return "revoked"
    if certificate.status == "expired" or certificate.expires_on < today:
        return "expired"
    return "expiring" if certificate.status == "expiring" else "certified"


def judge(
    facts: StampFacts | None, *, gtin: str | None, lot: str | None, today: date, now: datetime
) -> Verdict:
    """The verdict on a well-formed scan of ``facts`` (None: no such serial) as a link with ``gtin``/``lot``."""
    if facts is None:
        return Verdict("unknown", ("unknown_serial",), ("R1",), RULE_SCORES["R1"], "none", False)
    if gtin is not None and gtin != facts.gtin:
        # A real serial under another product's GTIN: someone wrote this link; it is no stamp of ours.
        return Verdict("unknown", ("gtin_mismatch",), ("R1",), RULE_SCORES["R1"], "none", False)
    certified = certificate_verdict(facts.certificate, today)
    expired = facts.expiry_date is not None and facts.expiry_date < today
    rules: list[str] = ["R12"] if expired else []
    reasons: list[str] = ["product_expired"] if expired else []
    if facts.state in ("revoked", "void"):
        rules.insert(0, "R3")
        return Verdict(
            "revoked", (f"stamp_{facts.state}", *reasons), tuple(rules), risk_of(rules), certified, expired
        )
    if facts.state in ("reserved", "issued"):
        rules.insert(0, "R2")
        return Verdict("not_activated", ("not_activated",), tuple(rules), risk_of(rules), certified, expired)
    if facts.activated_at is not None and now < facts.activated_at - ACTIVATION_TOLERANCE:
        rules.insert(0, "R4")
        reasons.insert(0, "scanned_before_activation")
    if lot is not None and facts.lot is not None and lot != facts.lot:
        reasons.insert(0, "lot_mismatch")
    # The stored risk of the history rules counts too; its rules are listed with ours.
    stored = [rule for rule in facts.risk_rules if rule not in rules]
    risk = risk_of(rules, extra=[facts.risk_score] if facts.risk_score else ())
    rules = rules + stored
    if certified == "revoked":
        return Verdict("revoked", ("certificate_revoked", *reasons), tuple(rules), risk, certified, expired)
    outcome: Outcome = "genuine"
    if facts.state == "suspended":
        reasons.insert(0, "stamp_suspended")
        outcome = "caution"
    if certified in ("expired", "none"):
        reasons.insert(0, f"certificate_{certified}")
        outcome = "caution"
    if "lot_mismatch" in reasons:
        outcome = "caution"
    band = band_of(risk)
    if band == "suspected":
        outcome = "suspected"
        reasons.append("risk")
    elif band == "caution" and outcome == "genuine":
        outcome = "caution"
        reasons.append("risk")
    return Verdict(outcome, tuple(reasons), tuple(rules), risk, certified, expired)


def history_after(facts: StampFacts | None, *, earlier_in_batch: int, now: datetime,
                  province: str | None) -> ScanHistory | None:  # fmt: skip
    """The stamp's verification history once this scan (the ``earlier_in_batch``+1-th of its batch) counts."""
    if facts is None:
        return None
    count = facts.scan_count + earlier_in_batch + 1
    if facts.first_scanned_at is not None:
        return ScanHistory(count, facts.first_scanned_at, facts.first_scan_province)
    return ScanHistory(count, now, province)
