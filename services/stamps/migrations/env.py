"""Alembic environment of the stamps service (schema `stamps`)."""

from services.stamps.db import SCHEMA, Base
from services.stamps.models import load_models
from shared.alembic_env import run_env

load_models()
run_env(SCHEMA, Base.metadata)
