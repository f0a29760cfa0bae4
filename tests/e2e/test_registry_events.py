"""The registry's events end to end: the four real processes, every call through the gateway's port.

A product is certified in scoring; an officer renames it (and its producer) in the registry; the
registry's relay delivers ``registry.product.updated`` and ``registry.entity.updated`` to scoring over
real HTTP, signed, and scoring's certificate shows the current names next to the certified ones. Every
wait polls against a deadline.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from tests import builders
from tests.builders import ADMIN, PROVINCE_AUTHORITY
from tests.e2e.test_scoring_workflow import eventually, issue, ok
from tests.support.processes import RunningProcess

pytestmark = pytest.mark.e2e


async def test_a_renamed_product_and_producer_reach_scorings_certificate(
    suite: dict[str, RunningProcess], db: asyncpg.Connection
) -> None:
    async with httpx.AsyncClient(base_url=suite["gateway"].url, timeout=30) as gateway:
        owner = await builders.producer(gateway, db)
        product = await builders.product(gateway, owner)
        made = await builders.dossier(gateway, gateway, db, owner=owner, product_=product)
        await builders.eligible(gateway, made)
        staged = await builders.in_scoring(gateway, made)
        assert (await builders.score_all(gateway, staged, (80, 80, 80)))["status"] == "recognised"
        certificate = await issue(gateway, made, owner.province_officer, PROVINCE_AUTHORITY)
        path = f"/v1/certificates/{certificate['id']}"

        async def current(names: tuple[str, str]) -> dict[str, Any] | None:
            read: dict[str, Any] = await ok(gateway.get(path, headers=ADMIN))
            return read if (read["product_current_name"], read["entity_current_name"]) == names else None

        # The registration's events reached scoring: the current names are the certified ones.
        await eventually(
            lambda: current((product["name"], owner.entity["legal_name"])), "the registered names"
        )

        await ok(
            gateway.patch(f"/v1/products/{product['id']}", json={"name": "Chả mực giã tay"}, headers=ADMIN)
        )
        await ok(
            gateway.patch(
                f"/v1/entities/{owner.entity_id}", json={"legal_name": "HTX Nông sản Xanh"},
                headers=owner.commune_officer,
            )
        )  # fmt: skip
        read = await eventually(
            lambda: current(("Chả mực giã tay", "HTX Nông sản Xanh")), "scoring shows the new names"
        )
        # The certificate's own names are the legal record: they stay as certified.
        assert (read["product_name"], read["entity_name"]) == (product["name"], owner.entity["legal_name"])
        public = await ok(gateway.get("/v1/certificates/lookup", params={"number": certificate["number"]}))
        assert public["product_current_name"] == "Chả mực giã tay"
        deliveries = await ok(
            gateway.get(
                "/v1/outbox/registry/deliveries",
                params={"subject": f"product/{product['id']}", "destination": "scoring"}, headers=ADMIN,
            )
        )  # fmt: skip
        assert {item["status"] for item in deliveries["items"]} == {"delivered"}
