"""Every ORM model of the registry, imported so the metadata is complete (Alembic, tests)."""

from __future__ import annotations


def load_models() -> None:
    """Import each domain package's models module."""
    from services.registry.admin_units import models as _admin_units  # noqa: F401
    from services.registry.catalogue_feed import models as _catalogue_feed  # noqa: F401
    from services.registry.changes import models as _changes  # noqa: F401
    from services.registry.cycle import models as _cycle  # noqa: F401
    from services.registry.entities import models as _entities  # noqa: F401
    from services.registry.imports import models as _imports  # noqa: F401
    from services.registry.products import models as _products  # noqa: F401
    from services.registry.webhooks import models as _webhooks  # noqa: F401
