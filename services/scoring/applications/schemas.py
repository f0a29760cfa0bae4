"""Application request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, computed_field

from shared.schemas import BaseSchema, ReadSchema

ApplicationType = Literal["new", "upgrade", "re_rating"]
Status = Literal[
    "draft", "submitted", "returned", "forwarded", "eligible", "in_round", "scoring", "rescore",
    "recognised", "not_recognised", "potential_5_star", "submitted_central",
]  # fmt: skip
# Where a dossier is or was scored: a province's or the central council, or (history) a district's.
Level = Literal["province", "central", "district"]
Outcome = Literal["recognised", "not_recognised", "potential_5_star", "provincial_result_kept"]
AttachmentKind = Literal[
    "business_registration", "food_safety", "lab_test", "label", "quality_declaration", "certification",
    "intellectual_property", "product_story", "other",
]  # fmt: skip
Reason = Annotated[str, Field(min_length=1, max_length=2000, examples=["Thiếu phiếu kết quả kiểm nghiệm"])]
Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\s]+$")]
# A card names one option per leaf criterion; no sheet has more than a few hundred.
Choices = Annotated[
    dict[Code, Code], Field(max_length=1000, examples=[{"A.1.1": "a", "A.1.2": "c", "B.1.1": "b"}])
]


class ApplicationCreate(BaseSchema):
    """A dossier to open for a registry product."""

    product_id: uuid.UUID
    type: Annotated[ApplicationType, Field(examples=["new"])]


class PrecheckDecision(BaseSchema):
    """The commune's pre-check: forward the dossier to the province, or return it with a reason."""

    decision: Literal["forward", "return"]
    reason: Reason | None = None


class CompletenessDecision(BaseSchema):
    """The province's completeness check: eligible for a round, or returned with a reason."""

    decision: Literal["eligible", "return"]
    reason: Reason | None = None


class Assignment(BaseSchema):
    """The open round to score the dossier in."""

    round_id: uuid.UUID


class ChoicesIn(BaseSchema):
    """One option per leaf criterion of the pinned score sheet (criterion code → option code)."""

    choices: Choices


class ApplicationRead(ReadSchema):
    """A dossier and where it stands."""

    id: uuid.UUID
    product_id: uuid.UUID
    entity_id: uuid.UUID
    commune_code: str
    province_code: str
    type: ApplicationType = Field(validation_alias="application_type")
    status: Status
    classification: str | None
    product_set: int | None
    criteria_version: str | None = Field(description="In force when opened; pinned again at each submission")
    sheet_id: uuid.UUID | None = Field(
        description="The score sheet to self-assess and score on (/v1/score-sheets)"
    )
    snapshot_sha256: str | None
    submitted_at: datetime | None
    level: Level | None
    round_id: uuid.UUID | None
    council_id: uuid.UUID | None
    scoring_pass: int
    return_reason: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime


class SnapshotRead(ReadSchema):
    """The registry's product and entity as fetched at submission, with the hash that seals them."""

    application_id: uuid.UUID = Field(validation_alias="id")
    submitted_at: datetime
    criteria_version: str | None
    sheet_id: uuid.UUID | None
    snapshot_sha256: str
    snapshot: dict[str, Any]


class AttachmentRead(ReadSchema):
    """A document of a dossier; its bytes are at ``url``."""

    id: uuid.UUID
    application_id: uuid.UUID
    kind: AttachmentKind
    filename: str
    sha256: str
    content_type: str
    size: int
    uploaded_by: str
    created_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def url(self) -> str:
        """Where the bytes are served."""
        return f"/v1/applications/{self.application_id}/attachments/{self.sha256}"


class SelfAssessmentRead(ReadSchema):
    """The producer's self-assessment and the scores it gives."""

    application_id: uuid.UUID
    sheet_id: uuid.UUID
    choices: dict[str, str]
    parts: dict[str, Decimal]
    total: Decimal
    mandatory_failed: list[str]
    eliminated: list[str]
    updated_by: str
    updated_at: datetime


class ScorecardRead(ReadSchema):
    """One member's card for one scoring pass, with the scores it gives."""

    id: uuid.UUID
    application_id: uuid.UUID
    pass_number: int
    round_id: uuid.UUID
    member_sub: str
    member_role: str
    choices: dict[str, str]
    parts: dict[str, Decimal]
    total: Decimal
    mandatory_failed: list[str]
    eliminated: list[str]
    created_at: datetime


class ResultRead(ReadSchema):
    """A council's decision on one scoring pass (immutable)."""

    id: uuid.UUID
    application_id: uuid.UUID
    pass_number: int
    round_id: uuid.UUID
    council_id: uuid.UUID
    level: Level
    average_total: Decimal
    parts: dict[str, Decimal]
    spread: Decimal
    band_star: int
    star: int
    outcome: Outcome
    mandatory_failed: list[str]
    eliminated: list[str]
    criteria_version: str
    rule: str
    members_scored: int
    members_expected: int
    product_id: uuid.UUID
    entity_id: uuid.UUID
    province_code: str
    application_type: ApplicationType
    decided_by: str
    decided_at: datetime
