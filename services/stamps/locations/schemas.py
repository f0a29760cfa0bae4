"""Request and response bodies of /v1/locations, and the place the trace view names."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from shared.schemas import BaseSchema, NotBool, ReadSchema

LocationKind = Literal["production_site", "packing_house", "warehouse", "shop"]
# How a kind reads in the trace view's summary (Vietnamese, English).
KIND_NAMES: dict[str, tuple[str, str]] = {
    "production_site": ("cơ sở sản xuất", "production site"),
    "packing_house": ("cơ sở đóng gói", "packing house"),
    "warehouse": ("kho", "warehouse"),
    "shop": ("cửa hàng", "shop"),
}

Name = Annotated[str, Field(min_length=1, max_length=255, description="The site's name as people know it")]
Address = Annotated[str, Field(min_length=1, max_length=500, description="Street address")]
CommuneCode = Annotated[str, Field(pattern=r"^[0-9]{5}$", description="Commune (ward) code, 5 digits")]
CommuneName = Annotated[
    str,
    Field(
        min_length=1, max_length=255,
        description="The commune's name (with commune_code); where the registry knows the commune, its name is kept",
    ),
]  # fmt: skip
ProvinceCode = Annotated[
    str, Field(pattern=r"^[0-9]{2}$", description="Province code, 2 digits (one of the 34 since 1 July 2025)")
]
Latitude = Annotated[float, NotBool, Field(ge=-90, le=90, allow_inf_nan=False, description="WGS 84 degrees")]
Longitude = Annotated[
    float, NotBool, Field(ge=-180, le=180, allow_inf_nan=False, description="WGS 84 degrees")
]
Gln = Annotated[str, Field(min_length=13, max_length=13, description="The site's GS1 Global Location Number")]
PrefixLength = Annotated[
    int, NotBool,
    Field(ge=6, le=12, description="Digits of the GLN's GS1 company prefix (893 + 4 to 7 digits in Vietnam)"),
]  # fmt: skip


class LocationCreate(BaseSchema):
    """A producer's site: with a GLN it is named by its SGLN, otherwise by a URI the platform assigns."""

    entity_id: uuid.UUID | None = Field(
        default=None,
        description="The owning producer (a producer's own entity when left out; admins must say)",
    )
    name: Name
    kind: LocationKind
    address: Address | None = None
    commune_code: CommuneCode | None = None
    commune_name: CommuneName | None = None
    province_code: ProvinceCode
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    gln: Gln | None = None
    gln_company_prefix_length: PrefixLength | None = Field(
        default=None, description="Required with a GLN: where its company prefix ends (no safe default)"
    )


class LocationUpdate(BaseSchema):
    """Changes to a site's description; its URI and GLN never change (events name the site by them)."""

    name: Name | None = None
    kind: LocationKind | None = None
    address: Address | None = None
    commune_code: CommuneCode | None = None
    commune_name: CommuneName | None = None
    province_code: ProvinceCode | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None


class LocationRead(ReadSchema):
    """A registered site as its owner and the officers who may see it read it."""

    id: uuid.UUID
    uri: str
    gln: str | None
    entity_id: uuid.UUID
    name: str
    kind: LocationKind
    address: str | None
    commune_code: str | None
    commune_name: str | None
    province_code: str
    latitude: float | None
    longitude: float | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Place:
    """What the trace view may say about a location: its name, kind and place (no owner, no street address)."""

    id: uuid.UUID
    uri: str
    gln: str | None
    name: str
    kind: str
    commune_code: str | None
    commune_name: str | None
    province_code: str
    province_name: str | None
    latitude: float | None
    longitude: float | None


class PlaceRead(ReadSchema):
    """A location's public description: name, kind and place."""

    id: uuid.UUID
    uri: str
    gln: str | None
    name: str
    kind: LocationKind
    commune_code: str | None
    commune_name: str | None
    province_code: str
    province_name: str | None
    latitude: float | None
    longitude: float | None


@dataclass(frozen=True)
class LocationFilter:
    """What a listing is narrowed to."""

    kind: str | None = None
    province_code: str | None = None
    entity_id: uuid.UUID | None = None
