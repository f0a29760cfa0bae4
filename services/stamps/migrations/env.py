"""Alembic environment of the stamps service (schema `stamps`)."""

import re

from services.stamps.db import SCHEMA, Base
from services.stamps.models import load_models
from shared.alembic_env import run_env

load_models()
# The scan log's monthly partitions (and its default one) are made by stamps.ensure_scan_partitions.
run_env(SCHEMA, Base.metadata, partitions=re.compile(r"scan_(\d{4}_\d{2}|default)"))
