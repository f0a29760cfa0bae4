"""The registry service's schema and declarative base: every table lives in schema `registry`."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from shared.db import schema_metadata

SCHEMA = "registry"


class Base(DeclarativeBase):
    """Base class of every ORM model of the registry service."""

    metadata = schema_metadata(SCHEMA)
