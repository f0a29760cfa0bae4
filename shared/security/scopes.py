"""What a principal may see, from its role and scope claim: pure rules that fail closed.

Every service scopes by the same claims (DESIGN.md, "Identity and access"): a province officer by a
province code, a commune officer by a commune code, a producer by its entity id, a council member by
its council id. A claim that is missing or malformed, and a role a rule does not name, see nothing.
``visible_condition`` turns a visibility into a SQL condition, so "nothing" matches no row without any
caller having to remember a special case.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, false, true

from shared.security.principal import Principal, Role

PROVINCE_CODE = re.compile(r"\d{2}")
COMMUNE_CODE = re.compile(r"\d{5}")
# Roles that see every record of a listing unless a rule says otherwise.
UNSCOPED_DEFAULT: frozenset[Role] = frozenset({Role.admin})


@dataclass(frozen=True)
class Place:
    """Where a record belongs: its entity, commune, province and (for scoring) council, as far as known."""

    entity_id: uuid.UUID | None = None
    commune_code: str | None = None
    province_code: str | None = None
    council_id: uuid.UUID | None = None


class Reach(StrEnum):
    """How far a visibility extends."""

    everything = "everything"
    nothing = "nothing"
    province = "province"
    commune = "commune"
    entity = "entity"
    council = "council"


@dataclass(frozen=True)
class Visibility:
    """The part of a listing a principal may see: everything, nothing, or one unit / entity / council."""

    reach: Reach
    value: str | uuid.UUID | None = None

    def admits(self, place: Place) -> bool:
        """Whether a record at ``place`` lies within this visibility."""
        match self.reach:
            case Reach.everything:
                return True
            case Reach.province:
                return place.province_code is not None and place.province_code == self.value
            case Reach.commune:
                return place.commune_code is not None and place.commune_code == self.value
            case Reach.entity:
                return place.entity_id is not None and place.entity_id == self.value
            case Reach.council:
                return place.council_id is not None and place.council_id == self.value
            case _:
                return False


EVERYTHING = Visibility(Reach.everything)
NOTHING = Visibility(Reach.nothing)


def _uuid_claim(scope: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(scope) if scope else None
    except ValueError:
        return None


def _code_claim(scope: str | None, pattern: re.Pattern[str]) -> str | None:
    return scope if scope is not None and pattern.fullmatch(scope) else None


def _scoped(reach: Reach, value: str | uuid.UUID | None) -> Visibility:
    return Visibility(reach, value) if value is not None else NOTHING


def visibility(principal: Principal, *, unscoped: Collection[Role] = UNSCOPED_DEFAULT) -> Visibility:
    """What ``principal`` may list: ``unscoped`` roles everything, scoped roles their claim, others nothing."""
    if principal.role in unscoped:
        return EVERYTHING
    match principal.role:
        case Role.province_officer:
            return _scoped(Reach.province, _code_claim(principal.scope, PROVINCE_CODE))
        case Role.commune_officer:
            return _scoped(Reach.commune, _code_claim(principal.scope, COMMUNE_CODE))
        case Role.producer:
            return _scoped(Reach.entity, _uuid_claim(principal.scope))
        case Role.council_member:
            return _scoped(Reach.council, _uuid_claim(principal.scope))
        case _:
            return NOTHING


def can_read(principal: Principal, place: Place, *, unscoped: Collection[Role] = UNSCOPED_DEFAULT) -> bool:
    """Whether ``principal`` may see a record at ``place`` (the single-record twin of ``visibility``)."""
    return visibility(principal, unscoped=unscoped).admits(place)


def visible_condition(
    visible: Visibility,
    *,
    entity: Any = None,
    commune: Any = None,
    province: Any = None,
    council: Any = None,
) -> ColumnElement[bool]:
    """The SQL condition selecting the rows ``visible`` admits, given the columns that hold each claim.

    A reach whose column the table lacks matches no row: a table without a council column shows a
    council member nothing rather than everything.
    """
    columns = {Reach.entity: entity, Reach.commune: commune, Reach.province: province, Reach.council: council}
    if visible.reach is Reach.everything:
        return true()
    column = columns.get(visible.reach)
    if column is None or visible.value is None:
        return false()
    condition: ColumnElement[bool] = column == visible.value
    return condition
