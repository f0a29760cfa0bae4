"""The problems of producers' locations."""

from __future__ import annotations

from shared.errors import Conflict, NotFound


class LocationNotFound(NotFound):
    """No such location, or none the caller may see."""

    type = "location-not-found"
    title = "Location not found"


class GlnTaken(Conflict):
    """Another location is registered with this GLN already (a GLN names one site)."""

    type = "gln-taken"
    title = "The GLN is registered already"
