"""The registry's snapshots as scoring reads them from an event's data (fields it does not keep are ignored)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class Snapshot(BaseModel):
    """What every registry snapshot carries."""

    # A producer may add fields to its events: a consumer reads what it needs and ignores the rest.
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: uuid.UUID
    version: Annotated[int, Field(ge=1)]
    province_code: Annotated[str, Field(min_length=1, max_length=10)]
    commune_code: Annotated[str, Field(min_length=1, max_length=10)]
    updated_at: datetime


class ProductSnapshot(Snapshot):
    """What scoring keeps of ``registry.product.updated``."""

    entity_id: uuid.UUID
    product_code: Annotated[str, Field(min_length=1, max_length=40)]
    name: Annotated[str, Field(min_length=1, max_length=255)]
    status: Annotated[str, Field(min_length=1, max_length=30)]
    ocop_star: Annotated[int | None, Field(ge=1, le=5)] = None


class EntitySnapshot(Snapshot):
    """What scoring keeps of ``registry.entity.updated``."""

    legal_name: Annotated[str, Field(min_length=1, max_length=255)]
    entity_type: Annotated[str, Field(min_length=1, max_length=30)]
    tax_code: Annotated[str, Field(min_length=1, max_length=14)]
