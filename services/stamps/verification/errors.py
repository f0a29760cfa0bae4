"""Problems of the verification path."""

from __future__ import annotations

from shared.errors import ProblemError


class MalformedLink(ProblemError):
    """The scanned link breaks GS1 Digital Link syntax (R0): 400, never a page that looks like an answer."""

    status = 400
    type = "malformed-link"
    title = "Not a valid OCOP stamp link"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field, outcome="malformed")
        self.field = field
        self.message = message


class UnknownLinkType(ProblemError):
    """The stamp has no link of the requested ``linkType`` (GS1 resolver: 404)."""

    status = 404
    type = "unknown-link-type"
    title = "No link of that type"


class InvalidLocation(ProblemError):
    """A consented location that is not one (latitude, longitude and accuracy out of range or half given)."""

    status = 400
    type = "invalid-location"
    title = "Invalid location"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)


class ScanNotLogged(ProblemError):
    """The scan could not be logged, so no verdict is given: try again shortly."""

    status = 503
    type = "scan-log-unavailable"
    title = "Verification is briefly unavailable"


class ScanTokenInvalid(ProblemError):
    """Not the token of a scan of ours (malformed or forged): the consumer scans the stamp again."""

    status = 404
    type = "scan-token-invalid"
    title = "No such scan"


class ScanTokenExpired(ProblemError):
    """The scan's page has outlived its token: the consumer scans the stamp again."""

    status = 410
    type = "scan-token-expired"
    title = "This scan's page has expired"


class LocationAlreadyShared(ProblemError):
    """The scan has a location already: one per scan."""

    status = 409
    type = "location-already-shared"
    title = "This scan already has a location"
