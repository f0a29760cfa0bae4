"""All SQL touching administrative units and their successions."""

from __future__ import annotations

import typing
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    Integer,
    Row,
    String,
    Table,
    and_,
    bindparam,
    case,
    cast,
    false,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import aliased
from sqlalchemy.sql.selectable import LateralFromClause

from services.registry.admin_units.models import AdminUnit, AdminUnitSuccession
from shared.pagination import KeysetPage
from shared.repository import Repository, unnested

UNITS = typing.cast(Table, AdminUnit.__table__)
SUCCESSIONS = typing.cast(Table, AdminUnitSuccession.__table__)
UNIT_COLUMNS = (
    UNITS.c.id,
    UNITS.c.code,
    UNITS.c.name,
    UNITS.c.level,
    UNITS.c.unit_type,
    UNITS.c.parent_code,
    UNITS.c.province_code,
    UNITS.c.valid_from,
    UNITS.c.valid_to,
)
# A chain of reforms longer than this is a data error (or a cycle), not history.
MAX_SUCCESSION_DEPTH = 32

UnitKey = tuple[str, date | None]
"""How the loader names a unit: (code, valid_from), the table's unique key."""

# What a unit as of a day is read as (``unit_as_of``).
AS_OF_COLUMNS = ("code", "name", "unit_type", "valid_from", "valid_to")


def unit_as_of(code: Any, level: str, on: date, name: str) -> LateralFromClause:
    """The unit with ``code`` in force on ``on``; else the one that ended last (codes are reused)."""
    unit = aliased(AdminUnit)
    in_force = and_(
        or_(unit.valid_from.is_(None), unit.valid_from <= on),
        or_(unit.valid_to.is_(None), unit.valid_to > on),
    )
    return (
        select(*(getattr(unit, column) for column in AS_OF_COLUMNS))
        .where(unit.code == code, unit.level == level)
        .order_by(case((in_force, 0), else_=1), unit.valid_to.desc().nulls_first())
        .limit(1)
        .lateral(name)
    )


@dataclass(frozen=True)
class UnitValues:
    """Every column of a unit the loader writes."""

    code: str
    name: str
    name_folded: str
    level: str
    unit_type: str
    parent_code: str | None
    province_code: str
    valid_from: date | None
    valid_to: date | None

    @property
    def key(self) -> UnitKey:
        """The unique key (code, valid_from)."""
        return (self.code, self.valid_from)


@dataclass(frozen=True)
class SuccessionValues:
    """A succession between two units named by their keys."""

    predecessor: UnitKey
    successor: UnitKey
    partial: bool


@dataclass(frozen=True)
class CommuneRef:
    """A commune as records refer to it: its id, its code and its province's code."""

    id: int
    code: str
    province_code: str


@dataclass(frozen=True)
class ListFilter:
    """What a unit listing selects: valid on ``on``, optionally narrowed."""

    on: date
    name_folded: str | None = None
    code_prefix: str | None = None
    level: str | None = None
    parent_code: str | None = None
    province_code: str | None = None


def valid_on(on: date) -> ColumnElement[bool]:
    """Units in force on ``on`` (``valid_to`` is exclusive)."""
    return and_(
        or_(UNITS.c.valid_from.is_(None), UNITS.c.valid_from <= on),
        or_(UNITS.c.valid_to.is_(None), UNITS.c.valid_to > on),
    )


def codes_reached_from(code: ColumnElement[str], on: ColumnElement[date]) -> ColumnElement[Any]:
    """An array of the codes ``code`` stands for on ``on``, to embed in a statement (``= ANY(...)``).

    ``code`` names the unit in force on ``on``, else the last unit with that code ended by then (as
    ``service.current_successors``); the array holds its code and those of the units it became through
    successions of units ended by ``on``: a pre-2025 commune's code reaches today's communes.
    """
    named = (
        select(UNITS.c.id, literal_column("0").label("depth"))
        .where(UNITS.c.code == code, or_(UNITS.c.valid_from.is_(None), UNITS.c.valid_from <= on))
        .order_by(UNITS.c.valid_to.desc().nulls_first())
        .limit(1)
        .cte("reached", recursive=True)
    )
    step = (
        select(SUCCESSIONS.c.successor_id, named.c.depth + 1)
        .select_from(named)
        .join(UNITS, UNITS.c.id == named.c.id)
        .join(SUCCESSIONS, SUCCESSIONS.c.predecessor_id == named.c.id)
        .where(UNITS.c.valid_to <= on, named.c.depth < MAX_SUCCESSION_DEPTH)
    )
    reached = named.union_all(step)
    codes = select(UNITS.c.code).join(reached, reached.c.id == UNITS.c.id)
    return func.array(codes.scalar_subquery())


def _key_arrays(keys: Iterable[UnitKey]) -> tuple[list[str], list[date | None]]:
    pairs = list(keys)
    return [code for code, _ in pairs], [valid_from for _, valid_from in pairs]


_UPSERT_UNITS = text(
    f"""
    INSERT INTO {UNITS.fullname} AS u
        (code, name, name_folded, level, unit_type, parent_code, province_code, valid_from, valid_to)
    SELECT * FROM unnest(
        CAST(:codes AS varchar[]), CAST(:names AS varchar[]), CAST(:folded AS varchar[]),
        CAST(:levels AS varchar[]), CAST(:types AS varchar[]), CAST(:parents AS varchar[]),
        CAST(:provinces AS varchar[]), CAST(:froms AS date[]), CAST(:tos AS date[])
    )
    ON CONFLICT ON CONSTRAINT code_valid_from DO UPDATE SET
        name = excluded.name, name_folded = excluded.name_folded, level = excluded.level,
        unit_type = excluded.unit_type, parent_code = excluded.parent_code,
        province_code = excluded.province_code, valid_to = excluded.valid_to
    WHERE (u.name, u.name_folded, u.level, u.unit_type, u.parent_code, u.province_code, u.valid_to)
        IS DISTINCT FROM (excluded.name, excluded.name_folded, excluded.level, excluded.unit_type,
                          excluded.parent_code, excluded.province_code, excluded.valid_to)
    RETURNING (xmax = 0) AS inserted
    """
).bindparams(
    *(bindparam(name, type_=ARRAY(String)) for name in ("codes", "names", "folded", "levels", "types")),
    *(bindparam(name, type_=ARRAY(String)) for name in ("parents", "provinces")),
    bindparam("froms", type_=ARRAY(Date)),
    bindparam("tos", type_=ARRAY(Date)),
)

_SUCCESSION_KEYS = f"""
    FROM unnest(
        CAST(:pred_codes AS varchar[]), CAST(:pred_froms AS date[]),
        CAST(:succ_codes AS varchar[]), CAST(:succ_froms AS date[]), CAST(:partials AS boolean[])
    ) AS w(pred_code, pred_from, succ_code, succ_from, partial)
    JOIN {UNITS.fullname} p ON p.code = w.pred_code AND p.valid_from IS NOT DISTINCT FROM w.pred_from
    JOIN {UNITS.fullname} s ON s.code = w.succ_code AND s.valid_from IS NOT DISTINCT FROM w.succ_from
"""
_SUCCESSION_PARAMS = (
    bindparam("pred_codes", type_=ARRAY(String)),
    bindparam("pred_froms", type_=ARRAY(Date)),
    bindparam("succ_codes", type_=ARRAY(String)),
    bindparam("succ_froms", type_=ARRAY(Date)),
    bindparam("partials", type_=ARRAY(Boolean)),
)

_UPSERT_SUCCESSIONS = text(
    f"""
    INSERT INTO {SUCCESSIONS.fullname} AS x (predecessor_id, successor_id, partial)
    SELECT p.id, s.id, w.partial {_SUCCESSION_KEYS}
    ON CONFLICT (predecessor_id, successor_id) DO UPDATE SET partial = excluded.partial
    WHERE x.partial IS DISTINCT FROM excluded.partial
    RETURNING (xmax = 0) AS inserted
    """
).bindparams(*_SUCCESSION_PARAMS)

_DELETE_SUCCESSIONS = text(
    f"""
    DELETE FROM {SUCCESSIONS.fullname} x USING (SELECT p.id AS pred_id, s.id AS succ_id {_SUCCESSION_KEYS}) d
    WHERE x.predecessor_id = d.pred_id AND x.successor_id = d.succ_id
    """
).bindparams(*_SUCCESSION_PARAMS)

_UNITS_BY_KEYS = text(
    f"""
    SELECT u.code, u.name, u.name_folded, u.level, u.unit_type, u.parent_code, u.province_code,
           u.valid_from, u.valid_to
    FROM unnest(CAST(:codes AS varchar[]), CAST(:froms AS date[])) AS k(code, valid_from)
    JOIN {UNITS.fullname} u ON u.code = k.code AND u.valid_from IS NOT DISTINCT FROM k.valid_from
    """
).bindparams(bindparam("codes", type_=ARRAY(String)), bindparam("froms", type_=ARRAY(Date)))

_SUCCESSIONS_FROM = text(
    f"""
    SELECT p.code AS pred_code, p.valid_from AS pred_from, s.code AS succ_code, s.valid_from AS succ_from,
           x.partial
    FROM unnest(CAST(:codes AS varchar[]), CAST(:froms AS date[])) AS k(code, valid_from)
    JOIN {UNITS.fullname} p ON p.code = k.code AND p.valid_from IS NOT DISTINCT FROM k.valid_from
    JOIN {SUCCESSIONS.fullname} x ON x.predecessor_id = p.id
    JOIN {UNITS.fullname} s ON s.id = x.successor_id
    """
).bindparams(bindparam("codes", type_=ARRAY(String)), bindparam("froms", type_=ARRAY(Date)))


def _succession_params(successions: Sequence[SuccessionValues]) -> dict[str, Any]:
    return {
        "pred_codes": [s.predecessor[0] for s in successions],
        "pred_froms": [s.predecessor[1] for s in successions],
        "succ_codes": [s.successor[0] for s in successions],
        "succ_froms": [s.successor[1] for s in successions],
        "partials": [s.partial for s in successions],
    }


class AdminUnitRepository(Repository[AdminUnit]):
    """Reads and writes administrative units and their successions within the caller's transaction."""

    model = AdminUnit

    async def list_valid(
        self, where: ListFilter, *, after: tuple[str, int] | None, limit: int
    ) -> KeysetPage[Row[Any]]:
        """Units valid on ``where.on`` matching the filter, ordered by (code, id), after the cursor key."""
        statement = select(*UNIT_COLUMNS).where(valid_on(where.on))
        if where.name_folded is not None:
            matches = UNITS.c.name_folded.contains(where.name_folded, autoescape=True)
            if where.code_prefix is not None:
                matches = or_(matches, UNITS.c.code.startswith(where.code_prefix, autoescape=True))
            statement = statement.where(matches)
        if where.level is not None:
            statement = statement.where(UNITS.c.level == where.level)
        if where.parent_code is not None:
            statement = statement.where(UNITS.c.parent_code == where.parent_code)
        if where.province_code is not None:
            statement = statement.where(UNITS.c.province_code == where.province_code)
        return await self.paginate(
            statement, keys=(UNITS.c.code, UNITS.c.id), after=after, limit=limit, rows=True
        )

    async def valid_with_code(self, code: str, on: date) -> AdminUnit | None:
        """The unit with ``code`` in force on ``on`` (codes are unique at any one date)."""
        statement = select(AdminUnit).where(AdminUnit.code == code, valid_on(on))
        return (await self.session.scalars(statement)).first()

    async def valid_communes(self, codes: Collection[str], on: date) -> dict[str, CommuneRef]:
        """The communes in force on ``on`` among ``codes``, by code (one query however many)."""
        if not codes:
            return {}
        wanted = unnested("wanted", code=(list(codes), String))
        statement = (
            select(UNITS.c.id, UNITS.c.code, UNITS.c.province_code)
            .join(wanted, UNITS.c.code == wanted.c.code)
            .where(UNITS.c.level == "commune", valid_on(on))
        )
        rows = (await self.session.execute(statement)).all()
        return {row.code: CommuneRef(row.id, row.code, row.province_code) for row in rows}

    async def last_ended_with_code(self, code: str, on: date) -> AdminUnit | None:
        """The most recent unit with ``code`` that had ended by ``on``."""
        statement = (
            select(AdminUnit)
            .where(AdminUnit.code == code, AdminUnit.valid_to <= on)
            .order_by(AdminUnit.valid_to.desc())
            .limit(1)
        )
        return (await self.session.scalars(statement)).first()

    async def all_with_code(self, code: str) -> Sequence[AdminUnit]:
        """Every unit that ever had ``code``, oldest first."""
        statement = (
            select(AdminUnit)
            .where(AdminUnit.code == code)
            .order_by(AdminUnit.valid_from.asc().nulls_first(), AdminUnit.id)
        )
        return (await self.session.scalars(statement)).all()

    async def successors_of(self, unit_id: int) -> Sequence[tuple[AdminUnit, bool]]:
        """The units ``unit_id`` directly became, with the partial flag of each succession."""
        statement = (
            select(AdminUnit, AdminUnitSuccession.partial)
            .join(AdminUnitSuccession, AdminUnitSuccession.successor_id == AdminUnit.id)
            .where(AdminUnitSuccession.predecessor_id == unit_id)
            .order_by(AdminUnit.code, AdminUnit.id)
        )
        return [(unit, partial) for unit, partial in (await self.session.execute(statement)).all()]

    async def predecessors_of(self, unit_id: int) -> Sequence[tuple[AdminUnit, bool]]:
        """The units ``unit_id`` was directly formed from, with the partial flag of each succession."""
        statement = (
            select(AdminUnit, AdminUnitSuccession.partial)
            .join(AdminUnitSuccession, AdminUnitSuccession.predecessor_id == AdminUnit.id)
            .where(AdminUnitSuccession.successor_id == unit_id)
            .order_by(AdminUnit.code, AdminUnit.id)
        )
        return [(unit, partial) for unit, partial in (await self.session.execute(statement)).all()]

    async def units_in_force_from(self, unit_id: int, on: date) -> Sequence[tuple[AdminUnit, bool]]:
        """The units valid on ``on`` reached from ``unit_id`` through successions of units ended by then.

        A unit reached along several paths is partial only if every path was partial (the pieces of a
        split that later merged back together make a whole).
        """
        start = select(
            cast(bindparam("start_id", unit_id), Integer).label("id"),
            false().label("partial"),
            literal_column("0").label("depth"),
        ).cte("walk", recursive=True)
        step = (
            select(
                SUCCESSIONS.c.successor_id,
                or_(start.c.partial, SUCCESSIONS.c.partial),
                start.c.depth + 1,
            )
            .select_from(start)
            .join(UNITS, UNITS.c.id == start.c.id)
            .join(SUCCESSIONS, SUCCESSIONS.c.predecessor_id == start.c.id)
            .where(UNITS.c.valid_to <= on, start.c.depth < MAX_SUCCESSION_DEPTH)
        )
        walk = start.union_all(step)
        reached = (
            select(walk.c.id, func.bool_and(walk.c.partial).label("partial")).group_by(walk.c.id).subquery()
        )
        statement = (
            select(AdminUnit, reached.c.partial)
            .join(reached, reached.c.id == AdminUnit.id)
            .where(valid_on(on))
            .order_by(AdminUnit.code, AdminUnit.id)
        )
        return [(unit, partial) for unit, partial in (await self.session.execute(statement)).all()]

    async def units_by_keys(self, keys: Iterable[UnitKey]) -> dict[UnitKey, UnitValues]:
        """The stored values of the units with these keys (missing keys are absent)."""
        codes, froms = _key_arrays(keys)
        rows = (await self.session.execute(_UNITS_BY_KEYS, {"codes": codes, "froms": froms})).all()
        found = (UnitValues(*row) for row in rows)
        return {unit.key: unit for unit in found}

    async def upsert_units(self, units: Sequence[UnitValues]) -> tuple[int, int]:
        """Insert or update units by key in one statement; returns (inserted, updated)."""
        params = {
            "codes": [u.code for u in units],
            "names": [u.name for u in units],
            "folded": [u.name_folded for u in units],
            "levels": [u.level for u in units],
            "types": [u.unit_type for u in units],
            "parents": [u.parent_code for u in units],
            "provinces": [u.province_code for u in units],
            "froms": [u.valid_from for u in units],
            "tos": [u.valid_to for u in units],
        }
        flags = (await self.session.execute(_UPSERT_UNITS, params)).scalars().all()
        inserted = sum(1 for flag in flags if flag)
        return inserted, len(flags) - inserted

    async def successions_from(self, predecessors: Iterable[UnitKey]) -> set[SuccessionValues]:
        """The stored successions whose predecessor has one of these keys."""
        codes, froms = _key_arrays(predecessors)
        rows = (await self.session.execute(_SUCCESSIONS_FROM, {"codes": codes, "froms": froms})).all()
        return {
            SuccessionValues((row.pred_code, row.pred_from), (row.succ_code, row.succ_from), row.partial)
            for row in rows
        }

    async def upsert_successions(self, successions: Sequence[SuccessionValues]) -> tuple[int, int]:
        """Insert successions (or fix their partial flag) in one statement; returns (inserted, updated)."""
        result = await self.session.execute(_UPSERT_SUCCESSIONS, _succession_params(successions))
        flags = result.scalars().all()
        inserted = sum(1 for flag in flags if flag)
        return inserted, len(flags) - inserted

    async def delete_successions(self, successions: Sequence[SuccessionValues]) -> None:
        """Delete these successions (matched by their units' keys) in one statement."""
        await self.session.execute(_DELETE_SUCCESSIONS, _succession_params(successions))
