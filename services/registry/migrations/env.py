"""Alembic environment of the registry service (schema `registry`)."""

from services.registry.db import SCHEMA, Base
from services.registry.models import load_models
from shared.alembic_env import run_env

load_models()
run_env(SCHEMA, Base.metadata)
