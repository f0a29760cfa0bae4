"""Application errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.errors import Conflict, NotFound, ProblemError


class ApplicationNotFound(NotFound):
    """No application with this id (or none the caller may see)."""

    type = "application-not-found"
    title = "Application not found"


class ProductNotFound(NotFound):
    """The registry has no such product (or none the caller may apply for)."""

    type = "product-not-found"
    title = "Product not found"


class ProductGone(Conflict):
    """The product or its entity is no longer in the registry: the dossier cannot be submitted."""

    type = "product-not-in-registry"
    title = "The product is no longer in the registry"


class EvaluationUnderWay(Conflict):
    """The product already has an application that is not decided."""

    type = "evaluation-under-way"
    title = "An evaluation of this product is under way"


class IllegalTransition(Conflict):
    """The application's current state does not allow this step; the problem names the state."""

    type = "illegal-transition"
    title = "Illegal status transition"


class NotEditable(Conflict):
    """Attachments and the self-assessment change only while the dossier is a draft or returned."""

    type = "application-not-editable"
    title = "Not editable in its current state"


class SelfAssessmentMissing(Conflict):
    """A dossier is submitted with the producer's self-assessment (Form 02)."""

    type = "self-assessment-missing"
    title = "The self-assessment is missing"


class SelfAssessmentStale(Conflict):
    """The self-assessment no longer fits the score sheet pinned at submission: it must be redone."""

    type = "self-assessment-stale"
    title = "The self-assessment does not fit the pinned score sheet"


class AttachmentNotFound(NotFound):
    """No attachment with this content hash on this application."""

    type = "attachment-not-found"
    title = "Attachment not found"


class AttachmentTooLarge(ProblemError):
    """An attachment is larger than the limit."""

    status = 413
    type = "attachment-too-large"
    title = "Attachment too large"


class UnsupportedAttachmentType(ProblemError):
    """Attachments are PDF documents or JPEG, PNG or WebP images."""

    status = 415
    type = "unsupported-attachment-type"
    title = "Unsupported attachment type"


class NotAScorer(ProblemError):
    """The caller sees the application but does not score for its council (a secretary, a stranger)."""

    status = 403
    type = "not-a-scorer"
    title = "Not a scoring member of this council"


class ScorecardExists(Conflict):
    """A member submits one card per scoring pass."""

    type = "scorecard-exists"
    title = "Already scored in this pass"


class CouncilNotReady(Conflict):
    """A scoring pass needs a council with exactly one chair."""

    type = "council-not-ready"
    title = "The council cannot score yet"


class QuorumNotMet(Conflict):
    """Too few members have scored (or the chair has not) to close the pass."""

    type = "quorum-not-met"
    title = "Quorum not met"


class ResultNotFound(NotFound):
    """The application has no decided result."""

    type = "result-not-found"
    title = "No decided result"


class SnapshotNotFound(NotFound):
    """The dossier has not been submitted, so nothing was fetched from the registry yet."""

    type = "snapshot-not-found"
    title = "No snapshot yet"


class SelfAssessmentNotFound(NotFound):
    """The dossier has no self-assessment yet."""

    type = "self-assessment-not-found"
    title = "No self-assessment yet"


class ChoicesInvalid(ProblemError):
    """A self-assessment's choices do not fit the sheet: every bad field, and the sheet they must answer."""

    status = 422
    type = "validation-error"
    title = "Request validation failed"

    def __init__(self, errors: Sequence[dict[str, Any]], *, sheet_id: str) -> None:
        fields = ", ".join(dict.fromkeys(error["field"] for error in errors))
        super().__init__(f"Invalid fields: {fields}", errors=list(errors), sheet_id=sheet_id)
