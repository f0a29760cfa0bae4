"""Every ORM model of the scoring service, imported so the metadata is complete (Alembic, tests)."""

from __future__ import annotations


def load_models() -> None:
    """Import each domain package's models module."""
    import services.scoring.applications.models
    import services.scoring.audit.models
    import services.scoring.certificates.models
    import services.scoring.councils.models
    import services.scoring.criteria.models
    import services.scoring.registry_copy.models  # noqa: F401
