"""The shared visibility rules fail closed: a missing or malformed claim, or an unnamed role, sees nothing."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Column, MetaData, String, Table, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import UUID

from shared.security.principal import ANONYMOUS, Principal, Role
from shared.security.scopes import (
    EVERYTHING,
    NOTHING,
    Place,
    Reach,
    Visibility,
    can_read,
    visibility,
    visible_condition,
)

ENTITY = uuid.UUID("0b6f3c52-3f0e-4f55-9a55-6c1d2a7e9e01")
COUNCIL = uuid.UUID("5d1e7a90-2b8c-4c4e-8f1a-3e9b6d0c7a12")
PLACE = Place(ENTITY, "07090", "22", COUNCIL)

RECORDS = Table(
    "record",
    MetaData(),
    Column("entity_id", UUID(as_uuid=True)),
    Column("commune_code", String),
    Column("province_code", String),
)


def _p(role: Role, scope: str | None = None) -> Principal:
    return Principal(sub="u", role=role, scope=scope)


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        (_p(Role.admin), EVERYTHING),
        (_p(Role.province_officer, "22"), Visibility(Reach.province, "22")),
        (_p(Role.commune_officer, "07090"), Visibility(Reach.commune, "07090")),
        (_p(Role.producer, str(ENTITY)), Visibility(Reach.entity, ENTITY)),
        (_p(Role.council_member, str(COUNCIL)), Visibility(Reach.council, COUNCIL)),
        # Missing or malformed claims.
        (_p(Role.province_officer), NOTHING),
        (_p(Role.province_officer, "2"), NOTHING),
        (_p(Role.province_officer, "22%"), NOTHING),
        (_p(Role.province_officer, "07090"), NOTHING),
        (_p(Role.commune_officer), NOTHING),
        (_p(Role.commune_officer, "22"), NOTHING),
        (_p(Role.commune_officer, "0709O"), NOTHING),
        (_p(Role.commune_officer, "07090 OR 1=1"), NOTHING),
        (_p(Role.producer), NOTHING),
        (_p(Role.producer, "not-a-uuid"), NOTHING),
        (_p(Role.council_member, "m1"), NOTHING),
        # Roles no listing names by default.
        (_p(Role.partner, "portal-1"), NOTHING),
        (_p(Role.national, "moit"), NOTHING),
        (_p(Role.service, "scoring"), NOTHING),
        (ANONYMOUS, NOTHING),
    ],
)
def test_visibility_of_each_role_and_claim(principal: Principal, expected: Visibility) -> None:
    assert visibility(principal) == expected
    assert can_read(principal, PLACE) is (expected != NOTHING)


def test_unscoped_roles_are_named_by_the_caller() -> None:
    scoring = _p(Role.service, "scoring")
    assert visibility(scoring, unscoped={Role.admin, Role.service}) == EVERYTHING
    assert visibility(_p(Role.admin), unscoped={Role.service}) == NOTHING


def test_a_place_without_the_claimed_key_is_not_visible() -> None:
    assert not can_read(_p(Role.producer, str(ENTITY)), Place(None, "07090", "22"))
    assert not can_read(_p(Role.council_member, str(COUNCIL)), Place(ENTITY, "07090", "22"))
    assert not can_read(_p(Role.province_officer, "22"), Place(ENTITY, "07090", None))


def _sql(visible: Visibility) -> str:
    condition = visible_condition(
        visible, entity=RECORDS.c.entity_id, commune=RECORDS.c.commune_code, province=RECORDS.c.province_code
    )
    statement = select(RECORDS).where(condition)
    return str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def test_nothing_is_a_condition_matching_no_row() -> None:
    assert _sql(NOTHING).endswith("WHERE false")


def test_everything_adds_no_restriction() -> None:
    assert _sql(EVERYTHING).endswith("WHERE true")


def test_a_reach_whose_column_the_table_lacks_matches_no_row() -> None:
    assert _sql(Visibility(Reach.council, COUNCIL)).endswith("WHERE false")


@pytest.mark.parametrize(
    ("visible", "column", "value"),
    [
        (Visibility(Reach.province, "22"), "province_code", "'22'"),
        (Visibility(Reach.commune, "07090"), "commune_code", "'07090'"),
        (Visibility(Reach.entity, ENTITY), "entity_id", f"'{ENTITY}'"),
    ],
)
def test_a_scope_restricts_its_column(visible: Visibility, column: str, value: str) -> None:
    assert _sql(visible).endswith(f"WHERE record.{column} = {value}")
