"""Every ORM model of the gateway, imported so the metadata is complete (Alembic, tests)."""

from __future__ import annotations


def load_models() -> None:
    """Import the gateway's models (none yet: identity tables arrive with the identity issue)."""
