"""Who may do what in scoring: pure functions of a principal and a record's place.

Visibility is the platform's shared rule (``shared.security.scopes``): a producer is scoped to its
entity id, a commune officer to a commune code, a province officer to a province code, a council
member to its council id; anything else (a missing or malformed claim, a role not named) sees
nothing. Reading something one may not see is answered as if it did not exist (404).
"""

from __future__ import annotations

from shared.security import scopes
from shared.security.principal import Principal, Role
from shared.security.scopes import Place, Visibility

# Our own services (the registry's first full load, later the stamps service) read every record.
READ_EVERYTHING = frozenset({Role.admin, Role.service})
# The national OCOP system reads results and certificates of every province; it changes nothing.
READ_RESULTS_EVERYWHERE = frozenset({Role.admin, Role.service, Role.national})


def visibility(principal: Principal) -> Visibility:
    """What part of scoring's listings ``principal`` may see."""
    return scopes.visibility(principal, unscoped=READ_EVERYTHING)


def can_read(principal: Principal, place: Place) -> bool:
    """Non-public records: admins and our services, officers within their unit, the owning producer."""
    return scopes.can_read(principal, place, unscoped=READ_EVERYTHING)


def is_admin(principal: Principal) -> bool:
    """Admins configure what is national: criteria versions and the shipped score sheets."""
    return principal.role is Role.admin


def results_visibility(principal: Principal) -> Visibility:
    """Results and certificates: as ``visibility``, and the national system sees every province's."""
    return scopes.visibility(principal, unscoped=READ_RESULTS_EVERYWHERE)


# Councils and rounds

# Who prepares a dossier: its producer and the officers of its unit (and admins).
PREPARERS = frozenset({Role.admin, Role.producer, Role.commune_officer, Role.province_officer})
# Who pre-checks a dossier at the commune: the commune's officers, the province's, admins.
PRECHECKERS = frozenset({Role.admin, Role.commune_officer, Role.province_officer})
# Who checks completeness, assigns rounds and runs scoring in a province: its officers and admins.
PROVINCE_DECIDERS = frozenset({Role.admin, Role.province_officer})
# Who reads the members' scorecards (once a pass is closed): staff of the province and the council.
SCORECARD_READERS = frozenset({Role.admin, Role.service, Role.province_officer, Role.council_member})


def can_manage_council(principal: Principal, *, level: str, province_code: str | None) -> bool:
    """A province's councils and rounds: its province officers and admins; the central council: admins only."""
    if principal.role is Role.admin:
        return True
    return (
        level == "province"
        and principal.role is Role.province_officer
        and province_code is not None
        and scopes.can_read(principal, Place(province_code=province_code))
    )


def _unit_only(place: Place) -> Place:
    """The record's unit and entity, without its council: a council's membership prepares and decides nothing."""
    return Place(place.entity_id, place.commune_code, place.province_code)


def can_prepare(principal: Principal, place: Place) -> bool:
    """Creating, completing and submitting a dossier: its producer, officers of its unit, admins."""
    return principal.role in PREPARERS and can_read(principal, _unit_only(place))


def can_precheck(principal: Principal, place: Place) -> bool:
    """The commune pre-check: officers of the dossier's commune or province, admins."""
    return principal.role in PRECHECKERS and can_read(principal, _unit_only(place))


def can_decide_in_province(principal: Principal, place: Place) -> bool:
    """Completeness, round assignment, scoring passes, proposing for 5★: the province's officers, admins."""
    return principal.role in PROVINCE_DECIDERS and can_read(principal, _unit_only(place))


def can_read_results(principal: Principal, place: Place) -> bool:
    """Results: whoever reads the dossier, and the national client everywhere."""
    return principal.role in READ_RESULTS_EVERYWHERE or can_read(principal, place)


def can_read_scorecards(principal: Principal, place: Place) -> bool:
    """Members' scorecards: admins, our services, the province's officers, the council scoring it."""
    return principal.role in SCORECARD_READERS and can_read(principal, place)
