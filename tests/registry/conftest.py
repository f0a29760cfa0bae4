"""Registry test fixtures: a unit, an entity and its producer's credentials."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest

from tests.conftest import auth
from tests.registry.factories import Unit, create_unit, unique_tax_code
from tests.support.database import TestDatabase


@dataclass(frozen=True)
class Producer:
    """An entity registered by its commune officer, with the headers of its producer."""

    unit: Unit
    entity_id: uuid.UUID
    headers: dict[str, str]


def entity_body(unit: Unit, **overrides: object) -> dict[str, object]:
    """A valid entity registration in ``unit``."""
    body: dict[str, object] = {
        "entity_type": "cooperative",
        "legal_name": f"Hợp tác xã Nông sản Sạch {uuid.uuid4().hex[:6]}",
        "tax_code": unique_tax_code(),
        "representative_name": "Nguyễn Thị Hoa",
        "representative_gender": "female",
        "representative_ethnicity": "Tày",
        "commune_code": unit.commune_code,
        "address": "Thôn Đồng Rui, xã Tiên Yên",
        "phone": "0203 3876 555",
        "email": "htx@example.vn",
        "members_count": 12,
        "local_workers_count": 30,
        "raw_material_area_ha": "12.50",
        "certifications": ["VietGAP"],
    }
    body.update(overrides)
    return body


async def register_product(
    client: httpx.AsyncClient, entity_id: str, *, product_set: int = 8, **fields: Any
) -> dict[str, Any]:
    """A product of ``entity_id`` ready for evaluation, registered by an admin."""
    body = {"entity_id": entity_id, "name": f"Chả mực {uuid.uuid4().hex[:6]}", "product_set": product_set,
            "status": "ready_for_evaluation", **fields}  # fmt: skip
    response = await client.post("/v1/products", json=body, headers=auth("admin"))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def certify(
    client: httpx.AsyncClient, product_id: str, star: int, issued_on: date, status: str = "active"
) -> dict[str, Any]:
    """Record an event of the product's provincial certificate (valid 36 months), as scoring sends it."""
    event = {"event_id": str(uuid.uuid4()), "product_id": product_id, "ocop_star": star,
             "certificate_number": f"T-{product_id}", "issuing_authority": "Ủy ban nhân dân tỉnh Thử",
             "issued_on": issued_on.isoformat(), "level": "province", "status": status}  # fmt: skip
    response = await client.post("/internal/certifications", json=event, headers=auth("service", "scoring"))
    assert response.status_code == 200, response.text
    product: dict[str, Any] = response.json()
    return product


async def register_producer(client: httpx.AsyncClient, database: TestDatabase) -> Producer:
    """A fresh unit and an entity in it."""
    unit = await create_unit(database)
    response = await client.post(
        "/v1/entities", json=entity_body(unit), headers=auth("commune_officer", unit.commune_code)
    )
    assert response.status_code == 201, response.text
    entity_id = uuid.UUID(response.json()["id"])
    return Producer(unit, entity_id, auth("producer", str(entity_id)))


@pytest.fixture
async def producer(registry_client: httpx.AsyncClient, database: TestDatabase) -> Producer:
    """An entity of its own for one test."""
    return await register_producer(registry_client, database)
