"""The stamps service's schema and declarative base: every table lives in schema `stamps`."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from shared.db import schema_metadata
from shared.events.tables import inbox_table, outbox_tables
from shared.idempotency import idempotency_table

SCHEMA = "stamps"


class Base(DeclarativeBase):
    """Base class of every ORM model of the stamps service."""

    metadata = schema_metadata(SCHEMA)


# Integration events (shared.events): what this service emits, and the ids of what it has handled.
outbox = outbox_tables(Base.metadata)
inbox = inbox_table(Base.metadata)

# Remembered responses of retried POSTs (shared.idempotency), in this service's schema.
idempotency_keys = idempotency_table(Base.metadata)
