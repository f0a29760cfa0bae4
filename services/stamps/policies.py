"""Who may do what with stamps: pure functions of a principal and a record's place (fail closed)."""

from __future__ import annotations

from shared.security import scopes
from shared.security.principal import Principal, Role
from shared.security.scopes import Place, Reach, Visibility

UNSCOPED = frozenset({Role.admin})


def visibility(principal: Principal) -> Visibility:
    """What part of the stamps' listings ``principal`` may see: a producer its entity's, an officer its unit's."""
    return scopes.visibility(principal, unscoped=UNSCOPED)


def can_read(principal: Principal, place: Place) -> bool:
    """A batch (or a product's stamps): its producer, the officers of its unit, admins."""
    return scopes.can_read(principal, place, unscoped=UNSCOPED)


def can_request(principal: Principal, place: Place) -> bool:
    """Stamps are requested by the product's own producer (or an admin)."""
    if principal.role is Role.admin:
        return True
    return (
        principal.role is Role.producer
        and place.entity_id is not None
        and principal.scope == str(place.entity_id)
    )


def can_decide(principal: Principal, place: Place) -> bool:
    """A batch is approved or rejected by an officer of its province (or an admin)."""
    if principal.role is Role.admin:
        return True
    return principal.role is Role.province_officer and scopes.can_read(principal, place, unscoped=frozenset())


def _province_officer_of(principal: Principal, place: Place) -> bool:
    return principal.role is Role.province_officer and scopes.can_read(principal, place, unscoped=frozenset())


def _producer_of(principal: Principal, place: Place) -> bool:
    return (
        principal.role is Role.producer
        and place.entity_id is not None
        and principal.scope == str(place.entity_id)
    )


def can_change_stamps(principal: Principal, action: str, place: Place) -> bool:
    """TRACEABILITY §4.4: who may issue, activate, suspend, unsuspend, revoke or void a batch's stamps.

    Issue, suspend, unsuspend and revoke: an officer of the batch's province. Activate: its producer.
    Void: either. Admins may do all; any other role or action, nothing.
    """
    if principal.role is Role.admin:
        return action in STAMP_ACTIONS
    if action in ("issue", "suspend", "unsuspend", "revoke"):
        return _province_officer_of(principal, place)
    if action == "activate":
        return _producer_of(principal, place)
    if action == "void":
        return _producer_of(principal, place) or _province_officer_of(principal, place)
    return False


STAMP_ACTIONS = frozenset({"issue", "activate", "suspend", "unsuspend", "revoke", "void"})


# The national OCOP system reads every province's stamp figures; it sees no batch or stamp.
STATISTICS_UNSCOPED = frozenset({Role.admin, Role.national})


def statistics_visibility(principal: Principal) -> Visibility:
    """Whose stamp figures ``principal`` reads: officers their province's, producers their own, admins and the
    national client everything; commune officers, council members, partners and the rest nothing."""
    visible = scopes.visibility(principal, unscoped=STATISTICS_UNSCOPED)
    return visible if visible.reach in (Reach.everything, Reach.province, Reach.entity) else scopes.NOTHING


def can_resolve_anomaly(principal: Principal, place: Place) -> bool:
    """An anomaly is resolved by an officer of its province (or an admin); its producer only reads it."""
    return principal.role is Role.admin or _province_officer_of(principal, place)


# EPCIS capture: admins and the platform's own services capture anything; a producer only about its own
# products and places; every other role nothing.
EPCIS_UNRESTRICTED = frozenset({Role.admin, Role.service})


def epcis_capture_reach(principal: Principal) -> Visibility:
    """What ``principal`` may capture EPCIS events about: everything, its own entity's, or nothing (fail closed)."""
    if principal.role in EPCIS_UNRESTRICTED:
        return scopes.visibility(principal, unscoped=EPCIS_UNRESTRICTED)
    if principal.role is Role.producer:
        visible = scopes.visibility(principal, unscoped=frozenset())
        return visible if visible.reach is Reach.entity else scopes.NOTHING
    return scopes.NOTHING


# Producers' sites (EPCIS locations): the national OCOP system reads every province's, as admins do.
LOCATIONS_UNSCOPED = frozenset({Role.admin, Role.national})


def location_visibility(principal: Principal) -> Visibility:
    """Whose sites ``principal`` may read: a producer its own, an officer those in its province or commune,
    admins and the national client all; council members, partners and the rest none."""
    return scopes.visibility(principal, unscoped=LOCATIONS_UNSCOPED)


def can_read_location(principal: Principal, place: Place) -> bool:
    """A site: its producer, the officers of its unit, admins and the national client."""
    return location_visibility(principal).admits(place)


def can_manage_location(principal: Principal, place: Place) -> bool:
    """A site is registered and changed by its own producer (or an admin); officers only read it."""
    return principal.role is Role.admin or _producer_of(principal, place)


# EPCIS events: a producer reads its own, an officer its province's, the national client and admins all.
EPCIS_UNSCOPED = frozenset({Role.admin, Role.national})


def epcis_visibility(principal: Principal) -> Visibility:
    """Whose EPCIS events ``principal`` reads: producers their own (entity), province officers their province's,
    admins and the national client every event; commune officers, council members, partners and the rest none."""
    visible = scopes.visibility(principal, unscoped=EPCIS_UNSCOPED)
    return visible if visible.reach in (Reach.everything, Reach.province, Reach.entity) else scopes.NOTHING


def can_resolve_report(principal: Principal, place: Place) -> bool:
    """A consumer's report is resolved by an officer of its province (or an admin); its producer only reads it."""
    return principal.role is Role.admin or _province_officer_of(principal, place)
