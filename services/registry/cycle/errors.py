"""Errors of the OCOP cycle, each a problem type of its own."""

from __future__ import annotations

from shared.errors import Conflict, NotFound


class IdeaNotFound(NotFound):
    """No idea registration with this id (or none the caller may see)."""

    type = "idea-not-found"
    title = "Idea registration not found"


class BusinessPlanNotFound(NotFound):
    """No business plan with this id (or none the caller may see)."""

    type = "business-plan-not-found"
    title = "Business plan not found"


class IllegalTransition(Conflict):
    """The review's current state does not allow this step; the problem names the state."""

    type = "illegal-transition"
    title = "Illegal status transition"


class NotEditable(Conflict):
    """Only drafts and returned submissions may be changed; reviewers see what was submitted."""

    type = "review-not-editable"
    title = "Not editable in its current state"


class IdeaNotApproved(Conflict):
    """A business plan needs an approved idea."""

    type = "idea-not-approved"
    title = "The idea is not approved"


class BusinessPlanExists(Conflict):
    """An idea has at most one business plan."""

    type = "business-plan-exists"
    title = "The idea already has a business plan"
