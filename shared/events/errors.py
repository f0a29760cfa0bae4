"""The problems a delivery to ``/internal/events`` can get back."""

from __future__ import annotations

from shared.errors import ProblemError


class SignatureInvalid(ProblemError):
    """Unsigned, badly signed, or signed outside the replay window: nothing was applied."""

    status = 401
    type = "event-signature-invalid"
    title = "The event delivery is not validly signed"


class EnvelopeMalformed(ProblemError):
    """The body is not an event envelope; ``errors`` names each bad field."""

    status = 400
    type = "event-envelope-malformed"
    title = "The event envelope is malformed"
