"""Run a process's Alembic environment programmatically."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from shared.db import async_url
from shared.topology import REPO_ROOT, ProcessSpec


def alembic_config(spec: ProcessSpec, url: str) -> Config:
    """An Alembic config for ``spec``'s environment pointed at ``url`` (the service's own role)."""
    config = Config(str(REPO_ROOT / "alembic.ini"), ini_section=spec.name)
    config.set_main_option("script_location", str(spec.migrations))
    # ConfigParser treats % as interpolation; URL-encoded passwords contain it.
    config.set_main_option("sqlalchemy.url", async_url(url).replace("%", "%%"))
    return config


def upgrade(spec: ProcessSpec, url: str, revision: str = "head") -> None:
    """Migrate ``spec``'s schema to ``revision``."""
    command.upgrade(alembic_config(spec, url), revision)


def check(spec: ProcessSpec, url: str) -> None:
    """Fail if the models and the migrations of ``spec`` disagree."""
    command.check(alembic_config(spec, url))
