"""Application, attachment, self-assessment, scorecard and result tables."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)  # fmt: skip
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.scoring.db import Base
from shared.models import CreatedAt, Timestamps, UUIDPrimaryKey

APPLICATION_TYPES = ("new", "upgrade", "re_rating")
# OCOP-DOMAIN.md §4 (post-1489 regime); "scored" is the instant a result is recorded, not a state.
STATES = (
    "draft", "submitted", "returned", "forwarded", "eligible", "in_round", "scoring", "rescore",
    "recognised", "not_recognised", "potential_5_star", "submitted_central",
)  # fmt: skip
# An application in one of these holds a decision, so the product may be evaluated again (a potential
# 5★ holds its 4★ decision; proposing it to central later needs no other evaluation under way).
DECIDED_STATES = ("recognised", "not_recognised", "potential_5_star")
# "district": history only (district councils decided 3★ under 781 and 148; see record_historical_result).
LEVELS = ("province", "central", "district")
OUTCOMES = ("recognised", "not_recognised", "potential_5_star", "provincial_result_kept")


class Application(UUIDPrimaryKey, Timestamps, Base):
    """One evaluation of one registry product, from draft to decision; pinned and snapshotted at submission."""

    __tablename__ = "application"
    __table_args__ = (
        CheckConstraint(f"application_type IN {APPLICATION_TYPES}", name="application_type"),
        CheckConstraint(f"status IN {STATES}", name="status"),
        CheckConstraint(f"level IN {LEVELS}", name="level"),
        CheckConstraint("scoring_pass >= 0", name="scoring_pass_not_negative"),
        Index("ix_application_entity_id", "entity_id"),
        Index("ix_application_commune_code", "commune_code"),
        Index("ix_application_province_code", "province_code"),
        Index("ix_application_council_id", "council_id"),
        Index("ix_application_round_id", "round_id"),
        # One evaluation of a product under way at a time.
        Index(
            "uq_application_product_under_way",
            "product_id",
            unique=True,
            postgresql_where=text(f"status NOT IN {DECIDED_STATES}"),
        ),
    )

    product_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    entity_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    commune_code: Mapped[str] = mapped_column(String(10))
    province_code: Mapped[str] = mapped_column(String(2))
    application_type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(30), default="draft")
    classification: Mapped[str | None] = mapped_column(String(20))
    product_set: Mapped[int | None] = mapped_column(Integer)
    # Pinned at submission: the criteria version in force that day and the score sheet of the product's set.
    criteria_version: Mapped[str | None] = mapped_column(String(20))
    sheet_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # The registry's product and entity as fetched at submission, and the SHA-256 of their canonical JSON.
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    snapshot_sha256: Mapped[str | None] = mapped_column(String(64))
    submitted_at: Mapped[datetime | None] = mapped_column(TIMESTAMP(timezone=True))
    # Where it is scored: the level, the round and (for who may read it) the round's council.
    level: Mapped[str | None] = mapped_column(String(20))
    round_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("round.id"))
    council_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("council.id"))
    scoring_pass: Mapped[int] = mapped_column(Integer, default=0)
    return_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))


class AttachmentBlob(CreatedAt, Base):
    """An attached file's bytes, stored once by the SHA-256 of its content."""

    __tablename__ = "attachment_blob"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(60))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Attachment(UUIDPrimaryKey, CreatedAt, Base):
    """A document of a dossier (business registration, food safety, lab test, label …)."""

    __tablename__ = "attachment"
    __table_args__ = (UniqueConstraint("application_id", "kind", "sha256"),)

    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("application.id"))
    kind: Mapped[str] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(ForeignKey("attachment_blob.sha256"))
    content_type: Mapped[str] = mapped_column(String(60))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(200))


class SelfAssessment(Timestamps, Base):
    """The producer's own scorecard (Form 02) against the sheet the dossier is or will be pinned to."""

    __tablename__ = "self_assessment"

    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("application.id"), primary_key=True)
    sheet_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    choices: Mapped[dict[str, str]] = mapped_column(JSONB)
    parts: Mapped[dict[str, str]] = mapped_column(JSONB)
    total: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    mandatory_failed: Mapped[list[str]] = mapped_column(JSONB)
    eliminated: Mapped[list[str]] = mapped_column(JSONB)
    updated_by: Mapped[str] = mapped_column(String(200))


class Scorecard(UUIDPrimaryKey, CreatedAt, Base):
    """One council member's card for one scoring pass of an application: never changed once submitted."""

    __tablename__ = "scorecard"
    __table_args__ = (
        UniqueConstraint("application_id", "pass_number", "member_id"),
        CheckConstraint("total >= 0 AND total <= 100", name="total_range"),
    )

    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("application.id"))
    pass_number: Mapped[int] = mapped_column(Integer)
    round_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("round.id"))
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("council_member.id"))
    member_sub: Mapped[str] = mapped_column(String(200))
    member_role: Mapped[str] = mapped_column(String(20))
    choices: Mapped[dict[str, str]] = mapped_column(JSONB)
    parts: Mapped[dict[str, str]] = mapped_column(JSONB)
    total: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    mandatory_failed: Mapped[list[str]] = mapped_column(JSONB)
    eliminated: Mapped[list[str]] = mapped_column(JSONB)


class Result(UUIDPrimaryKey, Base):
    """A council's decision on one scoring pass: immutable; a correction is a new decision."""

    __tablename__ = "result"
    __table_args__ = (
        UniqueConstraint("application_id", "pass_number"),
        CheckConstraint(f"level IN {LEVELS}", name="level"),
        CheckConstraint(f"outcome IN {OUTCOMES}", name="outcome"),
        CheckConstraint("star BETWEEN 1 AND 5 AND band_star BETWEEN 1 AND 5", name="stars"),
        Index("ix_result_product_id", "product_id"),
    )

    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("application.id"))
    pass_number: Mapped[int] = mapped_column(Integer)
    round_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("round.id"))
    council_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("council.id"))
    level: Mapped[str] = mapped_column(String(20))
    average_total: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    parts: Mapped[dict[str, str]] = mapped_column(JSONB)
    spread: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    # The star of the average in the version's bands, and the star this decision gives.
    band_star: Mapped[int] = mapped_column(Integer)
    star: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(30))
    mandatory_failed: Mapped[list[str]] = mapped_column(JSONB)
    eliminated: Mapped[list[str]] = mapped_column(JSONB)
    criteria_version: Mapped[str] = mapped_column(String(20))
    rule: Mapped[str] = mapped_column(String(300))
    members_scored: Mapped[int] = mapped_column(Integer)
    members_expected: Mapped[int] = mapped_column(Integer)
    # What a certificate needs, as they stood when decided.
    product_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    entity_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    province_code: Mapped[str] = mapped_column(String(2))
    application_type: Mapped[str] = mapped_column(String(20))
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True), server_default=func.now())
