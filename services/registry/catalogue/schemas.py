"""The public product record (national OCOP field names) and the catalogue's query."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from services.registry.entities.schemas import EntityType
from shared.pagination import DEFAULT_LIMIT, MAX_LIMIT
from shared.schemas import ReadSchema

# The values of product_group (products.classification.GROUP_NAMES): the 148/2023 groups, the
# 26/2026 groups, and the 1048/2019 sectors that differ from 148's groups.
ProductGroup = Literal[
    "food", "beverages", "herbal", "handicrafts", "ornamentals", "tourism",
    "fresh_food", "raw_food", "processed_food", "condiments", "tea", "coffee_cocoa", "alcoholic_drinks",
    "non_alcoholic_drinks", "functional_foods_medicines", "herbal_cosmetics", "essential_oils",
    "household_crafts", "fabric_garments", "flowers", "ornamental_plants", "ornamental_animals",
    "community_tourism",
    "textiles", "souvenirs",
]  # fmt: skip
CatalogueSort = Literal["name", "-star", "-issued_on", "relevance"]
Star = Annotated[int, Field(ge=1, le=5)]


class CatalogueParams(BaseModel):
    """The query string of a catalogue search (read as one model: shared.query_params)."""

    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Page size")
    cursor: str | None = Field(None, max_length=512, description="Opaque cursor from `next_cursor`")
    star: list[Star] | None = Field(None, description="Star levels (repeat for several)")
    min_star: int | None = Field(None, ge=1, le=5, description="At least this many stars")
    product_set: int | None = Field(None, ge=1, le=26, description="National product set, 1–26")
    group: ProductGroup | None = Field(None, description="Product group")
    province: str | None = Field(None, pattern=r"^\d{2}$", description="Province code")
    commune: str | None = Field(
        None,
        pattern=r"^\d{5}$",
        description="Commune code; a pre-2025 code also finds the products of the communes it became",
    )
    entity_type: EntityType | None = Field(None, description="Legal form of the producer")
    is_national: bool | None = Field(None, description="true: only national 5★; false: all but national 5★")
    q: str | None = Field(
        None, min_length=1, max_length=100, description="Product or producer name, with or without diacritics"
    )
    sort: CatalogueSort | None = Field(None, description="Default: relevance with q, else name")


@dataclass(frozen=True)
class CatalogueQuery:
    """The filters of one catalogue search; None means "any"."""

    stars: tuple[int, ...] = ()
    min_star: int | None = None
    product_set: int | None = None
    group: str | None = None
    province: str | None = None
    commune: str | None = None
    entity_type: str | None = None
    is_national: bool | None = None
    q_folded: str | None = None


class Manufacturer(ReadSchema):
    """The producer, under the names the national OCOP system publishes (``manufacturer{…}``)."""

    name: str
    representative: str
    address: str | None
    phone_number: str | None
    email: str | None


class PlaceRead(ReadSchema):
    """An administrative unit by code, with its name where the registry knows the unit."""

    code: str
    name: str | None


class CatalogueProduct(ReadSchema):
    """A certified product as the public sees it.

    ``id`` … ``manufacturer`` carry the field names of the national OCOP system's product record;
    the fields after them are the registry's own.
    """

    id: uuid.UUID
    name: str
    ocop_star: int
    description: str | None
    story: str | None
    images: list[str] = Field(description="Image URLs")
    ocop_certificate_number: str
    issued_on: date
    expiry_date: date
    is_national: bool = Field(description="5★ recognised at national level (not a provincial 5★)")
    type: str = Field(
        description="Product group in the product's classification version (148: food, beverages, herbal, "
        "handicrafts, ornamentals, tourism; 26/2026: one of its 17 groups, e.g. tea)"
    )
    manufacturer: Manufacturer
    name_en: str | None
    product_code: str
    product_set: int = Field(description="National product set (bộ sản phẩm), 1–26")
    gtin: str | None
    entity_type: EntityType
    commune: PlaceRead
    province: PlaceRead
