"""Scoring keeps its own copy of the registry's products and entities from the registry's events."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock
from tests import builders
from tests.conftest import auth
from tests.scoring.test_certificates import facts, issue
from tests.support.isolation import Scope


@pytest.fixture
async def registry_session(scope: Scope, registry_client: httpx.AsyncClient) -> AsyncIterator[AsyncSession]:
    """A registry session in the test's rolled-back transaction (to relay what the registry emitted)."""
    assert scope.registry is not None
    async with scope.registry.sessionmaker() as opened:
        yield opened


def product_snapshot(product_id: uuid.UUID, version: int, **changes: Any) -> dict[str, Any]:
    """A ``registry.product.updated`` data, as the registry sends it."""
    return {
        "id": str(product_id), "version": version, "product_code": "91-91001-0001-2026", "external_id": None,
        "name": "Chả mực Hạ Long", "name_en": None, "entity_id": str(uuid.uuid4()),
        "entity_legal_name": "Hợp tác xã Thử", "entity_tax_code": "0100000001", "product_set": 8,
        "product_group": "food", "sector": "food", "classification": "148", "gtin": None, "status": "idea",
        "ocop_star": None, "certificate_number": None, "certificate_status": None, "certificate_level": None,
        "certificate_issued_on": None, "certificate_expires_on": None, "certificate_authority": None,
        "images": [], "commune_code": "91001", "commune_name": "Xã Thử", "province_code": "91",
        "province_name": "Tỉnh Thử", "updated_at": clock.now().isoformat(),
    } | changes  # fmt: skip


async def copied(session: AsyncSession, table: str, record_id: uuid.UUID) -> Any:
    """The copied record (or None)."""
    rows = await session.execute(
        text(f"SELECT version, snapshot FROM scoring.{table} WHERE id = :id"), {"id": record_id}
    )
    return rows.first()


async def test_a_snapshot_is_kept_once_and_an_older_one_never_replaces_a_newer(
    scoring_client: httpx.AsyncClient, session: AsyncSession
) -> None:
    product_id = uuid.uuid4()
    event_id = str(uuid.uuid4())
    data = product_snapshot(product_id, 10, name="Chả mực giã tay")
    first = await builders.post_event(
        scoring_client, "registry.product.updated", data, event_id=event_id, subject=f"product/{product_id}"
    )
    assert first.json()["outcome"] == "applied", first.text
    again = await builders.post_event(
        scoring_client, "registry.product.updated", data, event_id=event_id, subject=f"product/{product_id}"
    )
    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
    older = await builders.post_event(
        scoring_client, "registry.product.updated", product_snapshot(product_id, 7, name="Tên cũ"),
        subject=f"product/{product_id}",
    )  # fmt: skip
    assert older.json()["outcome"] == "applied"  # handled: the copy keeps the newer snapshot
    row = await copied(session, "registry_product", product_id)
    assert (row.version, row.snapshot["name"]) == (10, "Chả mực giã tay")
    newer = await builders.post_event(
        scoring_client, "registry.product.updated", product_snapshot(product_id, 11, name="Chả mực Hạ Long",
                                                                     status="ready_for_evaluation"),
        subject=f"product/{product_id}",
    )  # fmt: skip
    assert newer.json()["outcome"] == "applied"
    row = await copied(session, "registry_product", product_id)
    assert (row.version, row.snapshot["name"], row.snapshot["status"]) == (
        11,
        "Chả mực Hạ Long",
        "ready_for_evaluation",
    )


async def test_an_invalid_snapshot_is_refused_naming_the_field(scoring_client: httpx.AsyncClient) -> None:
    product_id = uuid.uuid4()
    broken = product_snapshot(product_id, 1)
    del broken["name"]
    answer = await builders.post_event(
        scoring_client, "registry.product.updated", broken, subject=f"product/{product_id}"
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in answer.json()["errors"]] == ["data.name"]
    other = await builders.post_event(
        scoring_client, "registry.product.updated", product_snapshot(product_id, 1),
        subject=f"product/{uuid.uuid4()}",
    )  # fmt: skip
    assert other.status_code == 422, other.text
    assert other.json()["field"] == "data.id"


async def test_certificates_show_the_registrys_current_names_next_to_the_certified_ones(
    scoring_client: httpx.AsyncClient, registry_client: httpx.AsyncClient, db: asyncpg.Connection,
    session: AsyncSession, registry_session: AsyncSession,
) -> None:  # fmt: skip
    owner = await builders.producer(registry_client, db)
    product = await builders.product(registry_client, owner, headers=auth("admin"))
    certificate = await issue(session, facts(
        uuid.UUID(product["id"]), entity_id=uuid.UUID(owner.entity_id), province_code=owner.unit.province_code,
        commune_code=owner.unit.commune_code, product_name=product["name"],
        entity_name=owner.entity["legal_name"],
    ), clock.today() - timedelta(days=10))  # fmt: skip
    await session.flush()
    path = f"/v1/certificates/{certificate.id}"
    unheard = (await scoring_client.get(path, headers=builders.ADMIN)).json()
    assert (unheard["product_current_name"], unheard["entity_current_name"]) == (None, None)

    delivered = await builders.relay_outbox(registry_session, "registry", scoring_client)
    assert [event.type for event in delivered] == ["registry.entity.updated", "registry.product.updated"]
    read = (await scoring_client.get(path, headers=builders.ADMIN)).json()
    assert (read["product_current_name"], read["entity_current_name"]) == (
        product["name"], owner.entity["legal_name"],
    )  # fmt: skip

    renamed = await registry_client.patch(
        f"/v1/products/{product['id']}", json={"name": "Chả mực giã tay Hạ Long"}, headers=builders.ADMIN
    )
    assert renamed.status_code == 200, renamed.text
    entity = await registry_client.patch(
        f"/v1/entities/{owner.entity_id}",
        json={"legal_name": "HTX Nông sản Xanh"},
        headers=owner.commune_officer,
    )
    assert entity.status_code == 200, entity.text
    assert len(await builders.relay_outbox(registry_session, "registry", scoring_client)) == 2

    read = (await scoring_client.get(path, headers=builders.ADMIN)).json()
    assert (read["product_name"], read["product_current_name"]) == (
        product["name"],
        "Chả mực giã tay Hạ Long",
    )
    assert (read["entity_name"], read["entity_current_name"]) == (
        owner.entity["legal_name"],
        "HTX Nông sản Xanh",
    )
    listed = (await scoring_client.get("/v1/certificates", headers=builders.ADMIN)).json()["items"]
    assert [(item["id"], item["product_current_name"]) for item in listed] == [
        (str(certificate.id), "Chả mực giã tay Hạ Long")
    ]
    public = await scoring_client.get("/v1/certificates/lookup", params={"number": certificate.number})
    assert public.status_code == 200, public.text
    assert (public.json()["product_name"], public.json()["product_current_name"]) == (
        product["name"], "Chả mực giã tay Hạ Long",
    )  # fmt: skip
    assert public.json()["entity_current_name"] == "HTX Nông sản Xanh"
