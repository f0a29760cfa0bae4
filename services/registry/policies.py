"""Who may see and change what in the registry: pure functions of a principal and an object's place.

A producer is scoped to its entity id, a commune officer to a commune code, a province officer to a
province code (DESIGN.md, "Identity and access"). Reading something one may not see is answered as
if it did not exist (404), so these functions decide visibility and the services raise accordingly.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from shared.security.principal import Principal, Role

STAFF = (Role.admin, Role.province_officer, Role.commune_officer)


@dataclass(frozen=True)
class Place:
    """Where a record belongs: its entity (if any), commune and province."""

    entity_id: uuid.UUID | None
    commune_code: str
    province_code: str


@dataclass(frozen=True)
class Visibility:
    """A filter for listings: what part of the registry a principal may list (None = no limit)."""

    entity_id: uuid.UUID | None = None
    commune_code: str | None = None
    province_code: str | None = None
    nothing: bool = False


def _entity_scope(principal: Principal) -> uuid.UUID | None:
    try:
        return uuid.UUID(principal.scope) if principal.scope else None
    except ValueError:
        return None


def can_read(principal: Principal, place: Place) -> bool:
    """Non-public records: admins, officers within their unit, the owning producer."""
    match principal.role:
        case Role.admin:
            return True
        case Role.province_officer:
            return principal.scope == place.province_code
        case Role.commune_officer:
            return principal.scope == place.commune_code
        case Role.producer:
            return place.entity_id is not None and _entity_scope(principal) == place.entity_id
        case _:
            return False


def can_edit(principal: Principal, place: Place) -> bool:
    """Changing a record: the same principals that may read it (national and partner clients only read)."""
    return can_read(principal, place)


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


def visibility(principal: Principal) -> Visibility:
    """The listing filter matching ``can_read``."""
    match principal.role:
        case Role.admin:
            return Visibility()
        case Role.province_officer:
            return Visibility(province_code=principal.scope) if principal.scope else Visibility(nothing=True)
        case Role.commune_officer:
            return Visibility(commune_code=principal.scope) if principal.scope else Visibility(nothing=True)
        case Role.producer:
            entity_id = _entity_scope(principal)
            return Visibility(entity_id=entity_id) if entity_id else Visibility(nothing=True)
        case _:
            return Visibility(nothing=True)
