"""SQL pieces of the snapshots the registry's events carry (the repositories build the statements).

``registry.product.updated`` and ``registry.entity.updated`` carry a record as it stands after a write,
built in PostgreSQL as jsonb; each snapshot takes the next value of ``snapshot_version`` (migration 0015).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, literal_column

from services.registry.db import SCHEMA

# Taken while the write being reported holds the row's lock: a record's later snapshot has a larger version.
SNAPSHOT_VERSION: ColumnElement[int] = literal_column(f"nextval('{SCHEMA}.snapshot_version')")


def json_object(**values: Any) -> ColumnElement[Any]:
    """A jsonb object of ``values`` (name → SQL expression), built in PostgreSQL."""
    pairs: list[Any] = []
    for name, value in values.items():
        pairs += [literal_column(f"'{name}'"), value]
    return func.jsonb_build_object(*pairs)
