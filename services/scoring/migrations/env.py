"""Alembic environment of the scoring service (schema `scoring`)."""

from services.scoring.db import SCHEMA, Base
from services.scoring.models import load_models
from shared.alembic_env import run_env

load_models()
run_env(SCHEMA, Base.metadata)
