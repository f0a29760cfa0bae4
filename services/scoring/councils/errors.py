"""Council and round errors."""

from __future__ import annotations

from shared.errors import Conflict, NotFound


class CouncilNotFound(NotFound):
    """No council with this id (or none the caller may see)."""

    type = "council-not-found"
    title = "Council not found"


class RoundNotFound(NotFound):
    """No round with this id (or none the caller may see)."""

    type = "round-not-found"
    title = "Round not found"


class MemberExists(Conflict):
    """The subject is already a member of this council."""

    type = "council-member-exists"
    title = "Already a member of this council"


class ChairTaken(Conflict):
    """The council already has a chair."""

    type = "council-chair-taken"
    title = "The council already has a chair"


class CouncilInactive(Conflict):
    """An inactive council opens no rounds and scores nothing."""

    type = "council-inactive"
    title = "The council is inactive"


class RoundClosed(Conflict):
    """The round is closed: nothing more is assigned to it or scored in it."""

    type = "round-closed"
    title = "The round is closed"
