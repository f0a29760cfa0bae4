"""Administrative-unit rules: reading units at a date and following successions (loading lists: ``loading``).

Before 1 July 2025 Vietnam had provinces, districts and communes. The 2025 reform abolished districts,
merged provinces and merged (sometimes split) communes, reusing codes. A unit therefore lives between
``valid_from`` and ``valid_to`` (exclusive) and is identified by its id; an old code resolves to the
units valid today through successions, while records keep the unit they were registered in.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.admin_units.errors import AdminUnitNotFound, InvalidCommune
from services.registry.admin_units.models import AdminUnit
from services.registry.admin_units.repository import (
    AdminUnitRepository,
    CommuneRef,
    ListFilter,
)
from services.registry.admin_units.schemas import (
    AdminUnitDetail,
    AdminUnitLink,
    AdminUnitRead,
    AdminUnitSuccessors,
    UnitStatus,
)
from shared import clock
from shared.errors import InvalidField
from shared.pagination import decode_cursor
from shared.schemas import Page
from shared.text import fold

# The reform took effect at midnight in Vietnam: compare it with shared.clock.today().
REFORM_DATE = date(2025, 7, 1)

MAX_CODE_LENGTH = 10


# Reading


def unit_status(level: str, valid_from: date | None, valid_to: date | None, today: date) -> UnitStatus:
    """A unit's state today: districts that ended were abolished, other ended units were superseded."""
    if valid_from is not None and valid_from > today:
        return "upcoming"
    if valid_to is None or valid_to > today:
        return "active"
    return "abolished" if level == "district" else "superseded"


def _fields(unit: Any, today: date) -> dict[str, Any]:
    """The AdminUnitRead fields of an ORM unit or a Core row."""
    unit_type: str = unit.unit_type
    return {
        "id": unit.id,
        "code": unit.code,
        "name": unit.name,
        "full_name": f"{unit_type[:1].upper()}{unit_type[1:]} {unit.name}",
        "level": unit.level,
        "unit_type": unit_type,
        "parent_code": unit.parent_code,
        "province_code": unit.province_code,
        "valid_from": unit.valid_from,
        "valid_to": unit.valid_to,
        "status": unit_status(unit.level, unit.valid_from, unit.valid_to, today),
    }


def _read(unit: Any, today: date) -> AdminUnitRead:
    return AdminUnitRead.model_validate(_fields(unit, today))


def _links(pairs: Sequence[tuple[AdminUnit, bool]], today: date) -> list[AdminUnitLink]:
    return [
        AdminUnitLink.model_validate({**_fields(unit, today), "partial": partial}) for unit, partial in pairs
    ]


def _printable(text: str) -> str:
    """Drop control characters (NUL cannot even be sent to PostgreSQL)."""
    return "".join(ch for ch in text if ch.isprintable())


def _decode_after(cursor: str | None) -> tuple[str, int] | None:
    after = decode_cursor(cursor, str, int)
    if after is not None:
        code, unit_id = after
        if not (code.isascii() and code.isdigit() and len(code) <= MAX_CODE_LENGTH and 0 < unit_id < 2**31):
            raise InvalidField("query.cursor", "cursor does not belong to this listing")
    return after


async def list_units(
    session: AsyncSession,
    *,
    on: date,
    q: str | None = None,
    level: str | None = None,
    parent_code: str | None = None,
    province_code: str | None = None,
    limit: int,
    cursor: str | None = None,
) -> Page[AdminUnitRead]:
    """Units valid on ``on``, by code; ``q`` matches names with or without diacritics (or a code prefix)."""
    folded = fold(_printable(q)) if q else ""
    query = _printable(q).strip() if q else ""
    where = ListFilter(
        on=on,
        name_folded=folded or None,
        code_prefix=query if folded and query.isascii() and query.isdigit() else None,
        level=level,
        parent_code=parent_code,
        province_code=province_code,
    )
    page = await AdminUnitRepository(session).list_valid(where, after=_decode_after(cursor), limit=limit)
    today = clock.today()
    return Page[AdminUnitRead](items=[_read(row, today) for row in page.items], next_cursor=page.next_cursor)


def _describe_period(unit: AdminUnit) -> str:
    start = unit.valid_from.isoformat() if unit.valid_from else "the beginning of the records"
    end = f"until {unit.valid_to.isoformat()}" if unit.valid_to else "onwards"
    return f"{unit.unit_type} {unit.name} ({unit.level}) from {start} {end}"


async def _not_found(repository: AdminUnitRepository, code: str, on: date) -> AdminUnitNotFound:
    """A 404 that names the dates at which the code did name a unit, if any."""
    units = await repository.all_with_code(code)
    if not units:
        return AdminUnitNotFound(f"No administrative unit has ever had code {code}.", code=code)
    periods = "; ".join(_describe_period(unit) for unit in units)
    hint = (
        f" See /v1/admin-units/{code}/successors for the units that replaced it."
        if any(unit.valid_to is not None and unit.valid_to <= on for unit in units)
        else ""
    )
    return AdminUnitNotFound(
        f"Code {code} names no unit on {on.isoformat()}. It named: {periods}.{hint}",
        code=code,
        on=on.isoformat(),
        periods=[
            {
                "name": unit.name,
                "level": unit.level,
                "valid_from": unit.valid_from.isoformat() if unit.valid_from else None,
                "valid_to": unit.valid_to.isoformat() if unit.valid_to else None,
            }
            for unit in units
        ],
    )


async def get_unit(session: AsyncSession, code: str, on: date) -> AdminUnitDetail:
    """The unit with ``code`` valid on ``on`` with its direct successors and predecessors."""
    repository = AdminUnitRepository(session)
    unit = await repository.valid_with_code(code, on)
    if unit is None:
        raise await _not_found(repository, code, on)
    today = clock.today()
    return AdminUnitDetail.model_validate(
        {
            **_fields(unit, today),
            "successors": _links(await repository.successors_of(unit.id), today),
            "predecessors": _links(await repository.predecessors_of(unit.id), today),
        }
    )


async def _unit_named(repository: AdminUnitRepository, code: str, on: date, as_of: date | None) -> AdminUnit:
    """The unit ``code`` stands for: as of ``as_of`` if given, else valid on ``on``, else the last one ended."""
    if as_of is not None:
        if as_of > on:
            raise InvalidField("query.as_of", f"{as_of.isoformat()} is after on={on.isoformat()}")
        unit = await repository.valid_with_code(code, as_of)
        if unit is None:
            raise await _not_found(repository, code, as_of)
        return unit
    unit = await repository.valid_with_code(code, on) or await repository.last_ended_with_code(code, on)
    if unit is None:
        raise await _not_found(repository, code, on)
    return unit


async def current_successors(
    session: AsyncSession, code: str, on: date, *, as_of: date | None = None
) -> list[tuple[AdminUnit, bool]]:
    """The units valid on ``on`` that ``code``'s unit became (itself if still valid), with partial flags.

    A reused code is ambiguous: without ``as_of`` it means the unit valid on ``on``, else the most
    recent unit with that code that had ended by then. Pass ``as_of`` (the date the code was recorded)
    to resolve an old record's code exactly. Raises AdminUnitNotFound when the code names nothing.
    """
    repository = AdminUnitRepository(session)
    unit = await _unit_named(repository, code, on, as_of)
    return list(await repository.units_in_force_from(unit.id, on))


async def current_successors_of_unit(
    session: AsyncSession, unit_id: int, on: date
) -> list[tuple[AdminUnit, bool]]:
    """The units valid on ``on`` that the unit ``unit_id`` became (itself if still valid), with partial flags.

    Unambiguous where a code is not: use it for a record that stores the unit it was registered in.
    """
    return list(await AdminUnitRepository(session).units_in_force_from(unit_id, on))


async def successors_view(
    session: AsyncSession, code: str, on: date, as_of: date | None
) -> AdminUnitSuccessors:
    """The body of GET /v1/admin-units/{code}/successors."""
    repository = AdminUnitRepository(session)
    unit = await _unit_named(repository, code, on, as_of)
    today = clock.today()
    items = _links(await repository.units_in_force_from(unit.id, on), today)
    return AdminUnitSuccessors(code=code, on=on, unit=_read(unit, today), items=items)


async def resolve_commune(
    session: AsyncSession, code: str, on: date, *, field: str = "body.commune_code"
) -> AdminUnit:
    """The commune-level unit with ``code`` valid on ``on``; otherwise InvalidCommune (422) on ``field``."""
    repository = AdminUnitRepository(session)
    unit = await repository.valid_with_code(code, on)
    if unit is not None and unit.level == "commune":
        return unit
    if unit is not None:
        raise InvalidCommune(field, f"{code} is a {unit.level} ({unit.unit_type} {unit.name}), not a commune")
    ended = await repository.last_ended_with_code(code, on)
    if ended is not None and ended.level == "commune":
        successors = await repository.units_in_force_from(ended.id, on)
        names = ", ".join(f"{unit.code} {unit.unit_type} {unit.name}" for unit, _ in successors)
        raise InvalidCommune(
            field,
            f"commune {code} ({ended.name}) ceased to exist on {ended.valid_to}; "
            f"on {on.isoformat()} its area belongs to: {names or 'no recorded unit'}",
            code="commune_superseded",
        )
    raise InvalidCommune(field, f"no commune has code {code} on {on.isoformat()}", code="commune_unknown")


async def resolve_communes(
    session: AsyncSession, codes: Collection[str], on: date, *, field: str = "body.commune_code"
) -> dict[str, CommuneRef | InvalidCommune]:
    """``resolve_commune`` for many codes at once: each code's commune valid on ``on``, or the problem."""
    resolved: dict[str, CommuneRef | InvalidCommune] = {}
    resolved.update(await AdminUnitRepository(session).valid_communes(codes, on))
    # Only codes that name no commune cost more queries, to explain why (a reform, a wrong level).
    for code in set(codes) - resolved.keys():
        try:
            unit = await resolve_commune(session, code, on, field=field)
        except InvalidCommune as problem:
            resolved[code] = problem
        else:  # pragma: no cover - valid_communes found every commune in force
            resolved[code] = CommuneRef(unit.id, unit.code, unit.province_code)
    return resolved
