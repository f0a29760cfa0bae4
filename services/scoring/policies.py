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


def can_read_results(principal: Principal, place: Place) -> bool:
    """The single-record twin of ``results_visibility``."""
    return scopes.can_read(principal, place, unscoped=READ_RESULTS_EVERYWHERE)
