"""Control characters anywhere in a request are a 422 naming the field, never a 500."""

from __future__ import annotations

import httpx
import pytest

from shared.textguard import forbidden_character
from tests.builders import Producer, entity_body
from tests.conftest import auth, registry_app
from tests.support.database import TestDatabase


@pytest.mark.parametrize(
    ("text", "allow_whitespace", "expected"),
    [
        ("Rượu ba kích Quảng Ninh", False, None),
        ("dòng 1\ndòng 2\tcột", True, None),
        ("dòng 1\ndòng 2", False, "\n"),
        ("a\x00b", True, "\x00"),
        ("\x1b[31m", True, "\x1b"),
        ("\ud800", True, "\ud800"),
        ("\x7f", True, "\x7f"),
    ],
)
def test_forbidden_characters(text: str, allow_whitespace: bool, expected: str | None) -> None:
    assert forbidden_character(text, allow_whitespace=allow_whitespace) == expected


def _field_of(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    return str(error["field"])


@pytest.mark.parametrize("bad", ["Hợp tác xã\x00", "HTX \x1b[2J", "HTX \x08"])
async def test_a_control_character_in_a_body_field_is_refused(
    registry_client: httpx.AsyncClient, producer: Producer, bad: str
) -> None:
    officer = auth("commune_officer", producer.unit.commune_code)
    response = await registry_client.post(
        "/v1/entities", json=entity_body(producer.unit, legal_name=bad), headers=officer
    )
    assert _field_of(response) == "body.legal_name"


async def test_a_control_character_in_a_list_item_or_a_lone_surrogate_is_refused(
    registry_client: httpx.AsyncClient, producer: Producer
) -> None:
    officer = auth("commune_officer", producer.unit.commune_code)
    listed = await registry_client.post(
        "/v1/entities", json=entity_body(producer.unit, certifications=["VietGAP\x00"]), headers=officer
    )
    assert _field_of(listed) == "body.certifications"
    raw = entity_body(producer.unit)
    body = httpx.Request("POST", "/", json=raw).content.replace(b'"Nguy', b'"\\ud800Nguy', 1)
    surrogate = await registry_client.post(
        "/v1/entities", content=body, headers=officer | {"content-type": "application/json"}
    )
    assert _field_of(surrogate) == "body.representative_name"


async def test_newlines_in_long_text_are_kept(registry_client: httpx.AsyncClient, producer: Producer) -> None:
    response = await registry_client.post(
        "/v1/products",
        json={
            "entity_id": str(producer.entity_id),
            "name": "Chả mực Hạ Long",
            "product_set": 8,
            "description": "Mực tươi giã tay.\nĐóng gói hút chân không.\tBảo quản lạnh.",
        },
        headers=producer.headers,
    )
    assert response.status_code == 201, response.text
    assert "\n" in response.json()["description"]


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/v1/catalogue?q=ruou%00kich", "query.q"),
        ("/v1/catalogue?q=ruou%0Akich", "query.q"),
        ("/v1/catalogue?cursor=WyJuYW1lIiwgIlx1MDAwMCJd%00", "query.cursor"),
        ("/v1/admin-units?q=ha%1Blong&level=commune", "query.q"),
        ("/v1/admin-units/07%0090", "path"),
    ],
)
async def test_a_control_character_in_the_query_or_path_is_refused(
    registry_client: httpx.AsyncClient, url: str, field: str
) -> None:
    assert _field_of(await registry_client.get(url)) == field


async def test_a_cursor_that_decodes_to_a_control_character_is_refused(
    registry_client: httpx.AsyncClient,
) -> None:
    from shared.pagination import encode_cursor

    cursor = encode_cursor("name", "ruou\x00", "7d0b1a5e-8a41-4d8e-9c3e-0a6c1f0e5b77")
    assert _field_of(await registry_client.get("/v1/catalogue", params={"cursor": cursor})) == "query.cursor"


async def test_database_errors_never_carry_the_statement_parameters(migrated_database: TestDatabase) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    app = registry_app(migrated_database)  # it only reads
    async with app.router.lifespan_context(app):
        with pytest.raises(DBAPIError) as raised:
            async with app.state.db.engine.connect() as connection:
                await connection.execute(
                    text("SELECT CAST(:tax_code AS text), 1 / 0"), {"tax_code": "Nguyễn Thị Hoa 5701234567"}
                )
    assert "5701234567" not in str(raised.value)
    assert "hidden due to hide_parameters" in str(raised.value)
