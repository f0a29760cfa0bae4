"""The problems of the anomaly queue."""

from __future__ import annotations

from shared.errors import Conflict, NotFound


class AnomalyNotFound(NotFound):
    """No such anomaly, or none the caller may see."""

    type = "anomaly-not-found"
    title = "Anomaly not found"


class AnomalyAlreadyResolved(Conflict):
    """The anomaly was resolved already (by whom and when is in the anomaly)."""

    type = "anomaly-already-resolved"
    title = "The anomaly is already resolved"
