"""Every ORM model of the stamps service, imported so the metadata is complete (Alembic, tests)."""

from __future__ import annotations


def load_models() -> None:
    """Import each domain package's models module."""
    import services.stamps.anomalies.models
    import services.stamps.batches.models
    import services.stamps.epcis.models
    import services.stamps.lifecycle.models
    import services.stamps.locations.models
    import services.stamps.printing.models
    import services.stamps.reports.models
    import services.stamps.snapshot.models
    import services.stamps.verification.models  # noqa: F401
