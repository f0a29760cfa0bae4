"""The stamps service's schema and declarative base: every table lives in schema `stamps`."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from shared.db import schema_metadata
from shared.events.tables import inbox_table, outbox_tables

SCHEMA = "stamps"


class Base(DeclarativeBase):
    """Base class of every ORM model of the stamps service."""

    metadata = schema_metadata(SCHEMA)


# Integration events (shared.events): what this service emits, and the ids of what it has handled.
outbox = outbox_tables(Base.metadata)
inbox = inbox_table(Base.metadata)
