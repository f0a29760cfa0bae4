"""Who may change what in the registry: pure functions of a principal and a record's place.

Visibility (who may see what) is the platform's shared rule, ``shared.security.scopes``: a producer
is scoped to its entity id, a commune officer to a commune code, a province officer to a province
code, and anything else sees nothing. Reading something one may not see is answered as if it did not
exist (404), so these functions decide and the services raise accordingly.
"""

from __future__ import annotations

from shared.security import scopes
from shared.security.principal import Principal, Role
from shared.security.scopes import Place, Visibility

STAFF = (Role.admin, Role.province_officer, Role.commune_officer)
# Our own services (scoring pins a product and its entity at submission) read every record, change none.
READ_EVERYTHING = frozenset({Role.admin, Role.service})


def visibility(principal: Principal) -> Visibility:
    """What part of the registry's listings ``principal`` may see."""
    return scopes.visibility(principal, unscoped=READ_EVERYTHING)


def can_read(principal: Principal, place: Place) -> bool:
    """Non-public records: admins and our own services, officers within their unit, the owning producer."""
    return scopes.can_read(principal, place, unscoped=READ_EVERYTHING)


def can_edit(principal: Principal, place: Place) -> bool:
    """Changing a record: those who may read it, except services (they, national and partner clients only read)."""
    return principal.role is not Role.service and can_read(principal, place)


def can_register_in(principal: Principal, commune_code: str, province_code: str) -> bool:
    """Registering a new entity in a unit: staff of that unit (producers are registered by officers)."""
    return principal.role in STAFF and can_read(principal, Place(None, commune_code, province_code))


def can_review(principal: Principal, place: Place) -> bool:
    """Approving or returning ideas and business plans: commune and province officers of the unit."""
    return principal.role in STAFF and can_read(principal, place)


def can_write_certification(principal: Principal) -> bool:
    """Star and certificate fields: only the scoring service (its events) and admins."""
    return principal.role in (Role.admin, Role.service)


def can_import(principal: Principal) -> bool:
    """Bulk import and export: staff only."""
    return principal.role in STAFF


def can_subscribe_to_webhooks(principal: Principal) -> bool:
    """Webhooks: admins, and partners whose token names the partner (a partner without a scope may not)."""
    return principal.role is Role.admin or (principal.role is Role.partner and bool(principal.scope))


def webhook_owner(principal: Principal) -> str | None:
    """The partner a new subscription belongs to: the caller's scope for a partner, none for an admin."""
    return principal.scope if principal.role is Role.partner else None


def can_manage_webhook(principal: Principal, partner_id: str | None) -> bool:
    """Reading and changing a subscription: admins, and the partner that owns it (fails closed otherwise)."""
    if principal.role is Role.admin:
        return True
    return can_subscribe_to_webhooks(principal) and partner_id is not None and principal.scope == partner_id
