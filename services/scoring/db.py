"""The scoring service's schema and declarative base: every table lives in schema `scoring`."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from shared.db import schema_metadata

SCHEMA = "scoring"


class Base(DeclarativeBase):
    """Base class of every ORM model of the scoring service."""

    metadata = schema_metadata(SCHEMA)
