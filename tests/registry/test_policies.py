"""The registry's access rules, checked with principals directly."""

from __future__ import annotations

import uuid

import pytest

from services.registry import policies
from shared.security.principal import ANONYMOUS, Principal, Role
from shared.security.scopes import EVERYTHING, Place

ENTITY = uuid.uuid4()
OTHER_ENTITY = uuid.uuid4()
PLACE = Place(ENTITY, "07090", "22")


def _p(role: Role, scope: str | None = None) -> Principal:
    return Principal(sub="u", role=role, scope=scope)


@pytest.mark.parametrize(
    ("principal", "allowed"),
    [
        (_p(Role.admin), True),
        (_p(Role.province_officer, "22"), True),
        (_p(Role.province_officer, "01"), False),
        (_p(Role.commune_officer, "07090"), True),
        (_p(Role.commune_officer, "07093"), False),
        (_p(Role.producer, str(ENTITY)), True),
        (_p(Role.producer, str(OTHER_ENTITY)), False),
        (_p(Role.producer, "not-a-uuid"), False),
        (_p(Role.producer), False),
        (_p(Role.partner, "portal-1"), False),
        (_p(Role.national, "moit"), False),
        (_p(Role.council_member, "m1"), False),
        (ANONYMOUS, False),
    ],
)
def test_read_and_edit(principal: Principal, allowed: bool) -> None:
    assert policies.can_read(principal, PLACE) is allowed
    assert policies.can_edit(principal, PLACE) is allowed


@pytest.mark.parametrize("place", [PLACE, Place(OTHER_ENTITY, "06688", "01"), Place(None, "07093", "22")])
def test_services_read_every_record_and_change_none(place: Place) -> None:
    scoring = _p(Role.service, "scoring")
    assert policies.can_read(scoring, place)
    assert not policies.can_edit(scoring, place)
    assert not policies.can_register_in(scoring, place.commune_code, place.province_code)
    assert not policies.can_review(scoring, place)
    assert not policies.can_import(scoring)
    assert policies.visibility(scoring) == EVERYTHING


def test_only_staff_of_the_unit_register_entities() -> None:
    assert policies.can_register_in(_p(Role.commune_officer, "07090"), "07090", "22")
    assert not policies.can_register_in(_p(Role.commune_officer, "07090"), "07093", "22")
    assert policies.can_register_in(_p(Role.province_officer, "22"), "07093", "22")
    assert not policies.can_register_in(_p(Role.producer, str(ENTITY)), "07090", "22")
    assert not policies.can_register_in(ANONYMOUS, "07090", "22")


def test_producers_do_not_review_their_own_ideas() -> None:
    assert not policies.can_review(_p(Role.producer, str(ENTITY)), PLACE)
    assert policies.can_review(_p(Role.commune_officer, "07090"), PLACE)
    assert not policies.can_review(_p(Role.commune_officer, "07093"), PLACE)


def test_certification_is_written_by_scoring_or_admin_only() -> None:
    assert policies.can_write_certification(_p(Role.service, "scoring"))
    assert policies.can_write_certification(_p(Role.admin))
    assert not policies.can_write_certification(_p(Role.province_officer, "22"))
    assert not policies.can_write_certification(_p(Role.producer, str(ENTITY)))
