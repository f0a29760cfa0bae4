"""Every SQL statement on the criteria tables: async for the API, synchronous for the migration's loader."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, column, func, insert, or_, select, table
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.scoring.criteria.models import (
    CriteriaVersionRow,
    ProductSet,
    ScoreSheet,
    SheetNode,
    SheetOption,
)
from services.scoring.criteria.validation import NodeDraft
from services.scoring.db import SCHEMA
from shared.pagination import KeysetPage
from shared.repository import Repository
from shared.security.scopes import Visibility, visible_condition


@dataclass(frozen=True)
class SheetFilter:
    """The optional filters of a sheet listing (None: no filter)."""

    criteria_version: str | None = None
    # The sheets that apply to this set: its own and the generic ones.
    product_set: int | None = None
    source: str | None = None
    status: str | None = None


def tree_rows(
    sheet_id: uuid.UUID, nodes: Sequence[NodeDraft], make_id: Callable[[str], uuid.UUID]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The node and option rows of a sheet's nodes (depth first: a parent's row comes before its children's)."""
    ids = {node.code: make_id(node.code) for node in nodes}
    node_rows = [
        {"id": ids[node.code], "sheet_id": sheet_id, "parent_id": ids[node.parent] if node.parent else None,
         "code": node.code, "part": node.code[0], "title": node.title, "max_points": node.max_points,
         "mandatory_for_3_star": node.mandatory_for_3_star, "eliminating": node.eliminating,
         "position": position}
        for position, node in enumerate(nodes)
    ]  # fmt: skip
    option_rows = [
        {"id": make_id(f"{node.code}/{option.code}"), "node_id": ids[node.code], "code": option.code,
         "label": option.label, "points": option.points, "position": position}
        for node in nodes
        for position, option in enumerate(node.options)
    ]  # fmt: skip
    return node_rows, option_rows


class CriteriaVersionRepository(Repository[CriteriaVersionRow]):
    """Reads the criteria versions' rows."""

    model = CriteriaVersionRow

    async def lock(self, code: str) -> CriteriaVersionRow | None:
        """The version's row, locked until the transaction ends: sheets of one version are numbered one at a time."""
        return await self.session.scalar(
            select(CriteriaVersionRow).where(CriteriaVersionRow.code == code).with_for_update()
        )


class ProductSetRepository(Repository[ProductSet]):
    """Reads the product sets."""

    model = ProductSet

    async def list(
        self, criteria_version: str | None, *, limit: int, after: tuple[str, int] | None
    ) -> KeysetPage[ProductSet]:
        """A page of product sets (of one version, or all), by version then number."""
        query = select(ProductSet)
        if criteria_version is not None:
            query = query.where(ProductSet.criteria_version == criteria_version)
        return await self.paginate(
            query, keys=(ProductSet.criteria_version, ProductSet.number), after=after, limit=limit
        )


def _same_set(product_set: int | None) -> Any:
    return ScoreSheet.product_set.is_(None) if product_set is None else ScoreSheet.product_set == product_set


class ScoreSheetRepository(Repository[ScoreSheet]):
    """Reads and writes score sheets, their nodes and options, within the caller's transaction."""

    model = ScoreSheet

    async def next_sheet_version(self, criteria_version: str, product_set: int | None) -> int:
        """The number the next sheet of this version and set gets (the caller holds the version's lock)."""
        latest = await self.session.scalar(
            select(func.max(ScoreSheet.sheet_version)).where(
                ScoreSheet.criteria_version == criteria_version, _same_set(product_set)
            )
        )
        return (latest or 0) + 1

    async def latest_of(
        self, criteria_version: str, product_set: int | None, province_code: str | None
    ) -> ScoreSheet | None:
        """The newest imported sheet of this version, set and province (None: national)."""
        province = (
            ScoreSheet.province_code.is_(None)
            if province_code is None
            else ScoreSheet.province_code == province_code
        )
        return await self.session.scalar(
            select(ScoreSheet)
            .where(
                ScoreSheet.criteria_version == criteria_version,
                _same_set(product_set),
                ScoreSheet.source == "imported",
                province,
            )
            .order_by(ScoreSheet.sheet_version.desc())
            .limit(1)
        )

    async def add_tree(self, sheet: ScoreSheet, nodes: Sequence[NodeDraft]) -> ScoreSheet:
        """Insert a sheet with its nodes and options (depth first)."""
        await self.add(sheet)
        node_rows, option_rows = tree_rows(sheet.id, nodes, lambda _: uuid.uuid4())
        await self.session.execute(insert(SheetNode), node_rows)
        if option_rows:
            await self.session.execute(insert(SheetOption), option_rows)
        return sheet

    async def list(
        self,
        visible_drafts: Visibility,
        where: SheetFilter,
        *,
        limit: int,
        after: tuple[Any, ...] | None,
    ) -> KeysetPage[ScoreSheet]:
        """A page of the published sheets and the drafts ``visible_drafts`` admits, newest first."""
        query = select(ScoreSheet).where(
            or_(
                ScoreSheet.status == "published",
                visible_condition(visible_drafts, province=ScoreSheet.province_code),
            )
        )
        if where.criteria_version is not None:
            query = query.where(ScoreSheet.criteria_version == where.criteria_version)
        if where.product_set is not None:
            query = query.where(
                or_(ScoreSheet.product_set == where.product_set, ScoreSheet.product_set.is_(None))
            )
        if where.source is not None:
            query = query.where(ScoreSheet.source == where.source)
        if where.status is not None:
            query = query.where(ScoreSheet.status == where.status)
        return await self.paginate(
            query, keys=(ScoreSheet.created_at, ScoreSheet.id), after=after, limit=limit, descending=True
        )

    async def nodes_of(self, sheet_id: uuid.UUID) -> Sequence[tuple[SheetNode, Sequence[SheetOption]]]:
        """A sheet's nodes depth first, each with its options in order."""
        nodes = list(
            (
                await self.session.scalars(
                    select(SheetNode).where(SheetNode.sheet_id == sheet_id).order_by(SheetNode.position)
                )
            ).all()
        )
        options: dict[uuid.UUID, list[SheetOption]] = {node.id: [] for node in nodes}
        found = await self.session.scalars(
            select(SheetOption)
            .join(SheetNode, SheetOption.node_id == SheetNode.id)
            .where(SheetNode.sheet_id == sheet_id)
            .order_by(SheetOption.node_id, SheetOption.position)
        )
        for option in found:
            options[option.node_id].append(option)
        return [(node, options[node.id]) for node in nodes]

    async def for_submission(
        self, criteria_version: str, product_set: int, province_code: str | None
    ) -> ScoreSheet | None:
        """The published sheet an application pins: the newest imported for its set (its province's or a
        national one), else the newest imported generic one, else the newest shipped generic one."""
        province = or_(ScoreSheet.province_code.is_(None), ScoreSheet.province_code == province_code)
        query: Select[Any] = (
            select(ScoreSheet)
            .where(
                ScoreSheet.criteria_version == criteria_version,
                ScoreSheet.status == "published",
                or_(ScoreSheet.product_set == product_set, ScoreSheet.product_set.is_(None)),
                province,
            )
            .order_by(
                ScoreSheet.product_set.is_(None),  # a set's own sheet first
                ScoreSheet.source != "imported",  # then an imported generic one before the shipped one
                ScoreSheet.sheet_version.desc(),
            )
            .limit(1)
        )
        sheet: ScoreSheet | None = await self.session.scalar(query)
        return sheet


# The reference data written by migrations: tables named column by column, so a later change to the
# models cannot change what an old migration writes.
_VERSIONS = table(
    "criteria_version", column("code"), column("slug"), column("legal_ref"), column("in_force_from"),
    column("classification"), schema=SCHEMA,
)  # fmt: skip
_SETS = table(
    "product_set", column("criteria_version"), column("number"), column("name"), column("group_key"),
    column("group_name"), column("sector_key"), column("sector_name"), schema=SCHEMA,
)  # fmt: skip
_SHEETS = table(
    "score_sheet", column("id"), column("criteria_version"), column("product_set"), column("sheet_version"),
    column("source"), column("status"), column("used"), column("imported_by"), column("province_code"),
    column("checksum"), schema=SCHEMA,
)  # fmt: skip
_NODES = table(
    "sheet_node", column("id"), column("sheet_id"), column("parent_id"), column("code"), column("part"),
    column("title"), column("max_points"), column("mandatory_for_3_star"), column("eliminating"),
    column("position"), schema=SCHEMA,
)  # fmt: skip
_OPTIONS = table(
    "sheet_option", column("id"), column("node_id"), column("code"), column("label"), column("points"),
    column("position"), schema=SCHEMA,
)  # fmt: skip


class ReferenceWriter:
    """Writes the reference rows on a migration's synchronous connection; loading again changes nothing."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def upsert(self, name: str, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> None:
        """Insert the versions (``name`` = "criteria_version") or product sets, updating rows that exist."""
        target = {"criteria_version": _VERSIONS, "product_set": _SETS}[name]
        statement = pg_insert(target)
        changed = {name: statement.excluded[name] for name in rows[0] if name not in keys}
        self.connection.execute(statement.on_conflict_do_update(index_elements=keys, set_=changed), rows)

    def generic_checksums(self, criteria_version: str) -> set[str]:
        """The checksums of the generic sheets a version already has."""
        query = select(_SHEETS.c.checksum).where(
            _SHEETS.c.criteria_version == criteria_version,
            _SHEETS.c.source == "generic",
            _SHEETS.c.product_set.is_(None),
        )
        return set(self.connection.scalars(query))

    def next_generic_version(self, criteria_version: str) -> int:
        """The number of the version's next generic sheet."""
        latest = self.connection.scalar(
            select(func.max(_SHEETS.c.sheet_version)).where(
                _SHEETS.c.criteria_version == criteria_version, _SHEETS.c.product_set.is_(None)
            )
        )
        return int(latest or 0) + 1

    def insert_sheet(
        self, sheet: Mapping[str, Any], nodes: Sequence[NodeDraft], make_id: Callable[[str], uuid.UUID]
    ) -> None:
        """Insert one sheet with its nodes and options."""
        self.connection.execute(insert(_SHEETS), [dict(sheet)])
        node_rows, option_rows = tree_rows(sheet["id"], nodes, make_id)
        self.connection.execute(insert(_NODES), node_rows)
        self.connection.execute(insert(_OPTIONS), option_rows)
