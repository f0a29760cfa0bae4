"""registry.catalogue.*: an event exactly when what the public catalogue shows of a product changes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.catalogue_feed.service import publish_all
from tests import builders
from tests.builders import ADMIN
from tests.support.isolation import Scope


async def events(db: asyncpg.Connection, product_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The catalogue events of a product, in order."""
    rows = await db.fetch(
        """SELECT type, data::text AS data FROM registry.outbox_event
           WHERE subject = $1 AND type LIKE 'registry.catalogue.%' ORDER BY seq""",
        f"product/{product_id}",
    )
    return [(row["type"].rsplit(".", 1)[1], orjson.loads(row["data"])) for row in rows]


@pytest.fixture
async def session(scope: Scope, registry_client: httpx.AsyncClient) -> AsyncIterator[AsyncSession]:
    """A registry session in the test's rolled-back transaction."""
    assert scope.registry is not None
    async with scope.registry.sessionmaker() as opened:
        yield opened


async def test_certified_changed_renamed_revoked(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection, producer: builders.Producer
) -> None:
    registered = await builders.product(
        registry_client, producer, headers=ADMIN, status="ready_for_evaluation"
    )
    product_id = str(registered["id"])
    assert await events(db, product_id) == []  # not public: nothing to announce
    event = builders.certificate(product_id, star=4)
    await builders.deliver(registry_client, event)
    [(kind, added)] = await events(db, product_id)
    assert kind == "product_added"
    assert added["reason"] is None
    record = added["record"]
    assert (record["id"], record["name"], record["ocop_star"]) == (product_id, registered["name"], 4)
    assert record["manufacturer"]["name"] == producer.entity["legal_name"]

    # A public field changes: the new record.
    patched = await registry_client.patch(f"/v1/products/{product_id}", json={"story": "Câu chuyện mới"},
                                          headers=producer.commune_officer)  # fmt: skip
    assert patched.status_code == 200, patched.text
    kind, changed = (await events(db, product_id))[-1]
    assert kind == "product_changed"
    assert changed["record"]["story"] == "Câu chuyện mới"

    # A field the public never sees: no event.
    before = len(await events(db, product_id))
    quiet = await registry_client.patch(f"/v1/products/{product_id}", json={"external_id": "ERP-1"},
                                        headers=producer.commune_officer)  # fmt: skip
    assert quiet.status_code == 200, quiet.text
    same = await registry_client.patch(f"/v1/products/{product_id}", json={"story": "Câu chuyện mới"},
                                       headers=producer.commune_officer)  # fmt: skip
    assert same.status_code == 200
    await builders.deliver(registry_client, event)  # a duplicate delivery of the certificate
    assert len(await events(db, product_id)) == before

    # The producer is renamed: the record shows it.
    renamed = await registry_client.patch(f"/v1/entities/{producer.entity_id}", json={"legal_name": "HTX Mới Đổi Tên"},
                                          headers=producer.commune_officer)  # fmt: skip
    assert renamed.status_code == 200, renamed.text
    kind, changed = (await events(db, product_id))[-1]
    assert kind == "product_changed"
    assert changed["record"]["manufacturer"]["name"] == "HTX Mới Đổi Tên"

    # Revoked: it leaves the catalogue, with the reason.
    await builders.deliver(registry_client, builders.later(event, "revoked"))
    kind, removed = (await events(db, product_id))[-1]
    assert (kind, removed) == (
        "product_removed",
        {"product_id": product_id, "record": None, "reason": "revoked"},
    )
    before = len(await events(db, product_id))
    await registry_client.patch(f"/v1/entities/{producer.entity_id}", json={"legal_name": "HTX Lại Đổi"},
                                headers=producer.commune_officer)  # fmt: skip
    assert (
        len(await events(db, product_id)) == before
    )  # no longer public: its producer's name is nobody's business


async def test_expiry_removes_and_a_new_certificate_adds_again(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection, producer: builders.Producer
) -> None:
    product = await builders.certified_product(registry_client, producer, then=("expiring", "expired"))
    kinds = [(kind, data["reason"]) for kind, data in await events(db, str(product["id"]))]
    # Expiring is still in the catalogue (its record shows no change); expired leaves it.
    assert kinds == [("product_added", None), ("product_removed", "expired")]
    await builders.certify(registry_client, str(product["id"]), star=5, level="central")
    kind, data = (await events(db, str(product["id"])))[-1]
    assert kind == "product_added"
    assert data["record"]["is_national"] is True


async def test_an_image_changes_the_record(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection, producer: builders.Producer
) -> None:
    product = await builders.certified_product(registry_client, producer)
    added = await registry_client.post(
        f"/v1/products/{product['id']}/images", files={"file": ("a.png", builders.png(), "image/png")},
        headers=producer.headers,
    )  # fmt: skip
    assert added.status_code in (200, 201), added.text
    kind, data = (await events(db, str(product["id"])))[-1]
    assert kind == "product_changed"
    assert len(data["record"]["images"]) == 1


async def test_the_full_load_publishes_what_was_never_published_once(
    registry_client: httpx.AsyncClient,
    db: asyncpg.Connection,
    producer: builders.Producer,
    session: AsyncSession,
) -> None:
    product = await builders.certified_product(registry_client, producer)
    product_id = uuid.UUID(str(product["id"]))
    # As if the feed had never run (the catalogue existed before it).
    await db.execute("DELETE FROM registry.catalogue_publication WHERE product_id = $1", product_id)
    await db.execute("DELETE FROM registry.outbox_event WHERE subject = $1", f"product/{product_id}")
    first = await publish_all(session, batch=2)
    assert first.added >= 1
    assert [kind for kind, _ in await events(db, str(product_id))] == ["product_added"]
    again = await publish_all(session, batch=2)
    assert (again.added, again.changed, again.removed) == (0, 0, 0)
