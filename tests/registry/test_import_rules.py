"""An import and the API apply one set of rules: the same input gets the same problem, the same history."""

from __future__ import annotations

import uuid

import asyncpg
import httpx

from services.registry.entities.repository import EntityRepository
from shared.db import Database
from tests.conftest import auth
from tests.registry.conftest import entity_body
from tests.registry.factories import Unit, create_unit, unique_tax_code
from tests.registry.test_imports import (
    ADMIN,
    ENTITY_COLUMNS,
    PRODUCT_COLUMNS,
    csv_bytes,
    entity_row,
    product_row,
    run_import,
    valid_gtin,
)
from tests.support.database import TestDatabase


def only_error(job: dict[str, object]) -> tuple[object, object, object]:
    """The (row, column, message) of a failed job's one error."""
    assert job["status"] == "failed", job
    errors = job["errors"]
    assert isinstance(errors, list)
    assert len(errors) == 1, errors
    return errors[0]["row"], errors[0]["column"], errors[0]["message"]


async def ended_commune(db: asyncpg.Connection, successor: Unit) -> str:
    """A commune of ``successor``'s province that ceased on 1 July 2025, merged into ``successor``."""
    while True:
        code = f"8{uuid.uuid4().int % 10_000:04d}"
        if not await db.fetchval("SELECT count(*) FROM registry.admin_unit WHERE code = $1", code):
            break
    old_id = await db.fetchval(
        """INSERT INTO registry.admin_unit
               (code, name, name_folded, level, unit_type, parent_code, province_code, valid_to)
           VALUES ($1, 'Xã Cũ', 'xa cu', 'commune', 'xã', $2, $2, '2025-07-01') RETURNING id""",
        code,
        successor.province_code,
    )
    await db.execute(
        "INSERT INTO registry.admin_unit_succession (predecessor_id, successor_id, partial) VALUES ($1, $2, false)",
        old_id,
        successor.commune_id,
    )
    return code


# Entities


async def test_a_commune_outside_the_unit_is_refused_in_the_same_words(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    mine, theirs = await create_unit(database), await create_unit(database)
    officer = auth("commune_officer", mine.commune_code, sub="can-bo-xa")

    api = await registry_client.post("/v1/entities", json=entity_body(theirs), headers=officer)
    job = await run_import(
        registry_client, "entities", csv_bytes(ENTITY_COLUMNS, [entity_row(theirs)]), headers=officer
    )

    assert api.status_code == 403
    assert api.json()["field"] == "body.commune_code"
    assert only_error(job) == (2, "commune_code", api.json()["detail"])


async def test_a_commune_that_ceased_is_explained_in_the_same_words(
    registry_client: httpx.AsyncClient, database: TestDatabase, db: asyncpg.Connection
) -> None:
    unit = await create_unit(database)
    old_code = await ended_commune(db, unit)

    api = await registry_client.post(
        "/v1/entities", json=entity_body(unit, commune_code=old_code), headers=ADMIN
    )
    job = await run_import(
        registry_client, "entities", csv_bytes(ENTITY_COLUMNS, [entity_row(unit, commune_code=old_code)])
    )

    assert api.status_code == 422
    problem = api.json()["errors"][0]
    assert problem["field"] == "body.commune_code"
    assert "ceased to exist" in problem["message"]
    assert unit.commune_code in problem["message"]
    assert only_error(job) == (2, "commune_code", problem["message"])


async def test_a_tax_code_registered_outside_the_unit_is_taken_in_the_same_words(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    mine, theirs = await create_unit(database), await create_unit(database)
    officer = auth("commune_officer", mine.commune_code)
    tax_code = unique_tax_code()
    registered = await registry_client.post(
        "/v1/entities",
        json=entity_body(theirs, tax_code=tax_code),
        headers=auth("commune_officer", theirs.commune_code),
    )
    assert registered.status_code == 201, registered.text

    api = await registry_client.post(
        "/v1/entities", json=entity_body(mine, tax_code=tax_code), headers=officer
    )
    job = await run_import(
        registry_client,
        "entities",
        csv_bytes(ENTITY_COLUMNS, [entity_row(mine, tax_code=tax_code)]),
        headers=officer,
    )

    assert api.status_code == 409
    assert api.json()["field"] == "body.tax_code"
    assert only_error(job) == (2, "tax_code", api.json()["detail"])


async def test_an_import_moves_an_entity_only_where_the_api_would(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    home, elsewhere = await create_unit(database), await create_unit(database)
    officer = auth("province_officer", home.province_code)
    row = entity_row(home)
    assert (await run_import(registry_client, "entities", csv_bytes(ENTITY_COLUMNS, [row]), headers=officer))[
        "created"
    ] == 1
    listed = await registry_client.get(f"/v1/entities?q={row['legal_name']}", headers=officer)
    entity_id = listed.json()["items"][0]["id"]

    api = await registry_client.patch(
        f"/v1/entities/{entity_id}", json={"commune_code": elsewhere.commune_code}, headers=officer
    )
    job = await run_import(
        registry_client,
        "entities",
        csv_bytes(ENTITY_COLUMNS, [dict(row, commune_code=elsewhere.commune_code)]),
        headers=officer,
    )

    assert api.status_code == 403
    assert only_error(job) == (2, "commune_code", api.json()["detail"])


# Products


async def test_gtin_rules_are_the_apis(registry_client: httpx.AsyncClient, database: TestDatabase) -> None:
    unit = await create_unit(database)
    entity = entity_body(unit)
    created = await registry_client.post("/v1/entities", json=entity, headers=ADMIN)
    entity_id = created.json()["id"]
    gtin = valid_gtin("893" + f"{uuid.uuid4().int % 10**9:09d}")
    owner = await registry_client.post(
        "/v1/products",
        json={"entity_id": entity_id, "name": "Chả mực", "product_set": 8, "gtin": gtin},
        headers=ADMIN,
    )
    assert owner.status_code == 201, owner.text
    wrong_digit = gtin[:-1] + str((int(gtin[-1]) + 1) % 10)

    api_taken = await registry_client.post(
        "/v1/products",
        json={"entity_id": entity_id, "name": "Sá sùng", "product_set": 8, "gtin": gtin},
        headers=ADMIN,
    )
    api_digit = await registry_client.post(
        "/v1/products",
        json={"entity_id": entity_id, "name": "Sá sùng", "product_set": 8, "gtin": wrong_digit},
        headers=ADMIN,
    )
    tax_code = str(entity["tax_code"])
    taken_job = await run_import(
        registry_client,
        "products",
        csv_bytes(PRODUCT_COLUMNS, [product_row(tax_code, gtin=gtin, external_id="")]),
    )
    digit_job = await run_import(
        registry_client, "products", csv_bytes(PRODUCT_COLUMNS, [product_row(tax_code, gtin=wrong_digit)])
    )

    assert (api_taken.status_code, api_digit.status_code) == (409, 422)
    assert only_error(taken_job) == (2, "gtin", api_taken.json()["detail"])
    assert only_error(digit_job) == (2, "gtin", api_digit.json()["errors"][0]["message"])


async def test_imported_products_have_the_apis_history_and_the_job(
    registry_client: httpx.AsyncClient, database: TestDatabase
) -> None:
    unit = await create_unit(database)
    entity = entity_body(unit)
    entity_id = (await registry_client.post("/v1/entities", json=entity, headers=ADMIN)).json()["id"]
    registered = await registry_client.post(
        "/v1/products",
        json={"entity_id": entity_id, "name": "Chè Đường Hoa", "product_set": 11},
        headers=ADMIN,
    )
    assert registered.status_code == 201, registered.text
    row = product_row(str(entity["tax_code"]), name="Trà hoa vàng", product_set="11", external_id="TRA-01")
    imported = await run_import(registry_client, "products", csv_bytes(PRODUCT_COLUMNS, [row]))
    products = (await registry_client.get(f"/v1/products?entity_id={entity_id}", headers=ADMIN)).json()[
        "items"
    ]
    imported_id = next(product["id"] for product in products if product["external_id"] == "TRA-01")

    patched = await registry_client.patch(
        f"/v1/products/{registered.json()['id']}",
        json={"name": "Chè Đường Hoa Hải Hà", "product_set": 14},
        headers=ADMIN,
    )
    assert patched.status_code == 200, patched.text
    renamed = await run_import(
        registry_client,
        "products",
        csv_bytes(PRODUCT_COLUMNS, [dict(row, name="Trà hoa vàng Ba Chẽ", product_set="14")]),
    )
    assert (renamed["updated"], renamed["created"]) == (1, 0), renamed["errors"]

    by_api = (
        await registry_client.get(f"/v1/products/{registered.json()['id']}/history", headers=ADMIN)
    ).json()
    by_import = (await registry_client.get(f"/v1/products/{imported_id}/history", headers=ADMIN)).json()
    assert (
        [entry["action"] for entry in by_api]
        == [entry["action"] for entry in by_import]
        == ["registered", "updated"]
    )
    assert [(e["actor"], e["actor_role"]) for e in by_api] == [
        (e["actor"], e["actor_role"]) for e in by_import
    ]
    assert by_api[0]["changes"] == {"name": [None, "Chè Đường Hoa"]}
    assert by_import[0]["changes"] == {"name": [None, "Trà hoa vàng"], "import_job": imported["id"]}
    api_change, import_change = dict(by_api[1]["changes"]), dict(by_import[1]["changes"])
    assert api_change.pop("name") == ["Chè Đường Hoa", "Chè Đường Hoa Hải Hà"]
    assert import_change.pop("name") == ["Trà hoa vàng", "Trà hoa vàng Ba Chẽ"]
    assert import_change.pop("import_job") == renamed["id"]
    # The same new product set moves both to the same group: the same derived columns in the history.
    assert api_change["product_set"] == [11, 14]
    assert "product_group" in api_change
    assert import_change == api_change


# Writing what was checked


async def test_a_change_committed_after_the_check_is_seen_before_writing(
    database: TestDatabase, db: asyncpg.Connection
) -> None:
    unit = await create_unit(database)
    tax_codes = [unique_tax_code(), unique_tax_code()]
    registry = Database.connect(database.urls["registry"], application_name="test-import-rules")
    try:
        for tax_code in tax_codes:
            await db.execute(
                """INSERT INTO registry.entity (id, entity_type, legal_name, name_folded, tax_code,
                       representative_name, admin_unit_id, commune_code, province_code)
                   VALUES ($1, 'cooperative', 'HTX', 'htx', $2, 'Nguyễn Văn A', $3, $4, $5)""",
                uuid.uuid4(), tax_code, unit.commune_id, unit.commune_code, unit.province_code,
            )  # fmt: skip
        async with registry.sessionmaker() as session, session.begin():
            repository = EntityRepository(session)
            seen = await repository.rows_by_tax_code(tax_codes, ["id", "updated_at"])
            # Someone else changes the first entity after this transaction read it (no lock yet).
            await db.execute(
                "UPDATE registry.entity SET address = 'Khu 5', updated_at = now() WHERE tax_code = $1",
                tax_codes[0],
            )
            stale = await repository.changed_since({row.id: row.updated_at for row in seen.values()})
    finally:
        await registry.dispose()

    assert stale == {seen[tax_codes[0]].id}
