"""Alembic environment of the gateway (schema `gateway`)."""

from gateway.db import SCHEMA, Base
from gateway.models import load_models
from shared.alembic_env import run_env

load_models()
run_env(SCHEMA, Base.metadata)
