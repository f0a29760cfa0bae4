"""Every ORM model of the registry, imported so the metadata is complete (Alembic, tests)."""

from __future__ import annotations


def load_models() -> None:
    """Import each domain package's models module."""
    from services.registry.products import models as _products  # noqa: F401
