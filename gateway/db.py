"""The gateway's schema and declarative base: every table lives in schema `gateway`."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from shared.db import schema_metadata

SCHEMA = "gateway"


class Base(DeclarativeBase):
    """Base class of every ORM model of the gateway."""

    metadata = schema_metadata(SCHEMA)
