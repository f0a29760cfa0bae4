"""What a batch of registrations comes back as: the API's one record, or a batch of an import's rows.

The entities and products services check a whole batch with one query per lookup and write it only
when every record passes, so the API (a batch of one) and an import share one set of rules.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from shared.errors import Conflict, ProblemError

Action = Literal["created", "updated", "unchanged"]


@dataclass
class Outcome:
    """One record of a batch: the problem refusing it, or its id, what writing it does and where it belongs."""

    problem: ProblemError | None = None
    record_id: uuid.UUID | None = None
    action: Action | None = None
    commune_code: str | None = None
    warnings: list[Any] = field(default_factory=list)


@dataclass
class Batch:
    """The outcomes of a batch, in the order of its records, and whether it was written (all or nothing)."""

    outcomes: list[Outcome]
    written: bool = False

    @property
    def refused(self) -> bool:
        """Whether some record has a problem (then nothing was written)."""
        return any(outcome.problem is not None for outcome in self.outcomes)

    def count(self, action: Action) -> int:
        """How many records writing the batch creates, updates or leaves unchanged."""
        return sum(1 for outcome in self.outcomes if outcome.problem is None and outcome.action == action)

    def raise_first(self) -> None:
        """Raise the first record's problem, if any (the API's answer to a batch of one)."""
        for outcome in self.outcomes:
            if outcome.problem is not None:
                raise outcome.problem

    def refuse_changed(self, stale: set[uuid.UUID]) -> bool:
        """Refuse the records someone else changed after they were checked; whether there were any."""
        for outcome in self.outcomes:
            if outcome.record_id in stale:
                outcome.problem = Conflict(
                    "Changed by someone else while being checked; nothing was written."
                )
        return bool(stale)
