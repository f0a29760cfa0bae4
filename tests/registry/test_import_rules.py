"""An import and the API apply one set of rules: the same input gets the same problem, the same history."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import pytest

from services.registry.entities.repository import EntityRepository
from shared.db import Database
from tests import builders
from tests.builders import (
    ADMIN,
    ENTITY_COLUMNS,
    PRODUCT_COLUMNS,
    csv_file,
    entity_body,
    entity_row,
    import_job,
    imported,
    product_body,
    product_row,
)
from tests.conftest import auth
from tests.support.database import TestDatabase

# Import jobs run in the background with sessions of their own, and commit.
pytestmark = pytest.mark.commits


def only_error(job: dict[str, object]) -> tuple[object, object, object]:
    """The (row, column, message) of a failed job's one error."""
    assert job["status"] == "failed", job
    errors = job["errors"]
    assert isinstance(errors, list)
    assert len(errors) == 1, errors
    return errors[0]["row"], errors[0]["column"], errors[0]["message"]


# Entities


async def test_a_commune_outside_the_unit_is_refused_in_the_same_words(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    mine, theirs = await builders.unit(db), await builders.unit(db)
    officer = auth("commune_officer", mine.commune_code, sub="can-bo-xa")

    api = await registry_client.post("/v1/entities", json=entity_body(theirs), headers=officer)
    job = await import_job(
        registry_client, "entities", csv_file(ENTITY_COLUMNS, [entity_row(theirs)]), headers=officer
    )

    assert api.status_code == 403
    assert api.json()["field"] == "body.commune_code"
    assert only_error(job) == (2, "commune_code", api.json()["detail"])


async def test_a_commune_that_ceased_is_explained_in_the_same_words(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    place = await builders.reformed_commune(db)
    unit, old_code = place.new, place.old.commune_code

    api = await registry_client.post(
        "/v1/entities", json=entity_body(unit, commune_code=old_code), headers=ADMIN
    )
    job = await import_job(
        registry_client, "entities", csv_file(ENTITY_COLUMNS, [entity_row(unit, commune_code=old_code)])
    )

    assert api.status_code == 422
    problem = api.json()["errors"][0]
    assert problem["field"] == "body.commune_code"
    assert "ceased to exist" in problem["message"]
    assert unit.commune_code in problem["message"]
    assert only_error(job) == (2, "commune_code", problem["message"])


async def test_a_tax_code_registered_outside_the_unit_is_taken_in_the_same_words(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    mine, theirs = await builders.unit(db), await builders.unit(db)
    officer = auth("commune_officer", mine.commune_code)
    tax_code = builders.tax_code()
    registered = await registry_client.post(
        "/v1/entities",
        json=entity_body(theirs, tax_code=tax_code),
        headers=auth("commune_officer", theirs.commune_code),
    )
    assert registered.status_code == 201, registered.text

    api = await registry_client.post(
        "/v1/entities", json=entity_body(mine, tax_code=tax_code), headers=officer
    )
    job = await import_job(
        registry_client,
        "entities",
        csv_file(ENTITY_COLUMNS, [entity_row(mine, tax_code=tax_code)]),
        headers=officer,
    )

    assert api.status_code == 409
    assert api.json()["field"] == "body.tax_code"
    assert only_error(job) == (2, "tax_code", api.json()["detail"])


async def test_an_import_moves_an_entity_only_where_the_api_would(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    home, elsewhere = await builders.unit(db), await builders.unit(db)
    officer = auth("province_officer", home.province_code)
    row = entity_row(home)
    assert (await imported(registry_client, "entities", csv_file(ENTITY_COLUMNS, [row]), headers=officer))[
        "created"
    ] == 1
    listed = await registry_client.get(f"/v1/entities?q={row['legal_name']}", headers=officer)
    entity_id = listed.json()["items"][0]["id"]

    api = await registry_client.patch(
        f"/v1/entities/{entity_id}", json={"commune_code": elsewhere.commune_code}, headers=officer
    )
    job = await import_job(
        registry_client,
        "entities",
        csv_file(ENTITY_COLUMNS, [dict(row, commune_code=elsewhere.commune_code)]),
        headers=officer,
    )

    assert api.status_code == 403
    assert only_error(job) == (2, "commune_code", api.json()["detail"])


# Products


async def test_gtin_rules_are_the_apis(registry_client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    entity = await builders.entity(registry_client, await builders.unit(db), headers=ADMIN)
    entity_id = entity["id"]
    gtin = builders.gtin()
    owner = await registry_client.post(
        "/v1/products", json=product_body(entity_id, name="Chả mực", gtin=gtin), headers=ADMIN
    )
    assert owner.status_code == 201, owner.text
    wrong_digit = gtin[:-1] + str((int(gtin[-1]) + 1) % 10)

    api_taken = await registry_client.post(
        "/v1/products",
        json=product_body(entity_id, name="Sá sùng", gtin=gtin),
        headers=ADMIN,
    )
    api_digit = await registry_client.post(
        "/v1/products",
        json=product_body(entity_id, name="Sá sùng", gtin=wrong_digit),
        headers=ADMIN,
    )
    tax_code = str(entity["tax_code"])
    taken_job = await import_job(
        registry_client,
        "products",
        csv_file(PRODUCT_COLUMNS, [product_row(tax_code, gtin=gtin, external_id="")]),
    )
    digit_job = await import_job(
        registry_client, "products", csv_file(PRODUCT_COLUMNS, [product_row(tax_code, gtin=wrong_digit)])
    )

    assert (api_taken.status_code, api_digit.status_code) == (409, 422)
    assert only_error(taken_job) == (2, "gtin", api_taken.json()["detail"])
    assert only_error(digit_job) == (2, "gtin", api_digit.json()["errors"][0]["message"])


async def test_imported_products_have_the_apis_history_and_the_job(
    registry_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    entity = await builders.entity(registry_client, await builders.unit(db), headers=ADMIN)
    entity_id = entity["id"]
    registered = await registry_client.post(
        "/v1/products", json=product_body(entity_id, name="Chè Đường Hoa", product_set=11), headers=ADMIN
    )
    assert registered.status_code == 201, registered.text
    row = product_row(str(entity["tax_code"]), name="Trà hoa vàng", product_set="11", external_id="TRA-01")
    first = await imported(registry_client, "products", csv_file(PRODUCT_COLUMNS, [row]))
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
    renamed = await imported(
        registry_client,
        "products",
        csv_file(PRODUCT_COLUMNS, [dict(row, name="Trà hoa vàng Ba Chẽ", product_set="14")]),
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
    assert by_import[0]["changes"] == {"name": [None, "Trà hoa vàng"], "import_job": first["id"]}
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
    unit = await builders.unit(db)
    tax_codes = [builders.tax_code(), builders.tax_code()]
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
