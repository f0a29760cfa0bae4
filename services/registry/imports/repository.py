"""All SQL of imports and exports: the job table, and set-based reads and writes of entities and products."""

from __future__ import annotations

import sys
import typing
import uuid
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    Boolean,
    ColumnElement,
    RowMapping,
    String,
    Table,
    and_,
    bindparam,
    column,
    func,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)  # fmt: skip
from sqlalchemy.dialects.postgresql import ARRAY, UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.admin_units.models import AdminUnit
from services.registry.entities.models import Entity
from services.registry.imports.models import ImportJob
from services.registry.products.models import Product, ProductChange, ProductCodeSequence
from shared.security.scopes import Visibility, visible_condition

UNITS = typing.cast(Table, AdminUnit.__table__)
ENTITIES = typing.cast(Table, Entity.__table__)
PRODUCTS = typing.cast(Table, Product.__table__)
CHANGES = typing.cast(Table, ProductChange.__table__)
SEQUENCES = typing.cast(Table, ProductCodeSequence.__table__)
JOBS = typing.cast(Table, ImportJob.__table__)

# Columns of an existing product that an import may compare and change.
PRODUCT_COMPARED = (
    "id", "entity_id", "name", "name_en", "name_folded", "description", "story", "product_set",
    "classification", "product_group", "sector", "gtin", "external_id",
)  # fmt: skip


@dataclass(frozen=True)
class CommuneRef:
    """A commune valid on the import's day."""

    id: int
    code: str
    province_code: str


@dataclass(frozen=True, slots=True)
class EntityRef:
    """What an import needs of an existing entity: who it is and where it belongs."""

    id: uuid.UUID
    tax_code: str
    admin_unit_id: int
    commune_code: str
    province_code: str


@dataclass(frozen=True)
class JobFilter:
    """Which jobs a caller may see: all (admins) or those of one role and unit."""

    created_by_role: str | None = None
    scope: str | None = None


class ImportJobRepository:
    """Reads and writes import jobs within the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, job: ImportJob) -> ImportJob:
        """Insert a job and load its server defaults."""
        self.session.add(job)
        await self.session.flush()
        await self.session.refresh(job)
        return job

    async def get(self, job_id: uuid.UUID) -> ImportJob | None:
        """The job with this id, if any."""
        return await self.session.get(ImportJob, job_id)

    async def list(
        self, visible: JobFilter, *, limit: int, before: tuple[datetime, uuid.UUID] | None
    ) -> list[ImportJob]:
        """A page of the jobs a caller may see, newest first."""
        query = select(ImportJob)
        if visible.created_by_role is not None:
            query = query.where(
                ImportJob.created_by_role == visible.created_by_role, ImportJob.scope == visible.scope
            )
        if before is not None:
            query = query.where(tuple_(ImportJob.created_at, ImportJob.id) < tuple_(*before))
        query = query.order_by(ImportJob.created_at.desc(), ImportJob.id.desc()).limit(limit)
        return list((await self.session.scalars(query)).all())

    async def set(self, job_id: uuid.UUID, **values: Any) -> None:
        """Change some columns of a job."""
        await self.session.execute(update(JOBS).where(JOBS.c.id == job_id).values(**values))

    async def fail_stalled(self, stalled_for: timedelta, error: dict[str, Any]) -> int:
        """Mark failed every unfinished job with no progress for ``stalled_for``; how many there were."""
        statement = (
            update(JOBS)
            .where(
                JOBS.c.status.in_(("pending", "validating", "importing")),
                JOBS.c.updated_at < func.now() - stalled_for,
            )
            .values(status="failed", finished_at=func.now(), errors=[error])
            .returning(JOBS.c.id)
        )
        return len((await self.session.execute(statement)).all())


class ImportDataRepository:
    """Set-based reads and writes of entities and products for one import (or export)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def communes_valid_on(self, day: date) -> dict[str, CommuneRef]:
        """Every commune valid on ``day`` by code (a few thousand rows, read once per pass)."""
        query = select(UNITS.c.id, UNITS.c.code, UNITS.c.province_code).where(
            UNITS.c.level == "commune",
            or_(UNITS.c.valid_from.is_(None), UNITS.c.valid_from <= day),
            or_(UNITS.c.valid_to.is_(None), UNITS.c.valid_to > day),
        )
        rows = (await self.session.execute(query)).all()
        return {row.code: CommuneRef(row.id, row.code, row.province_code) for row in rows}

    async def entities_by_tax_code(self, tax_codes: Collection[str]) -> dict[str, EntityRef]:
        """The entities holding these tax codes."""
        if not tax_codes:
            return {}
        wanted = _wanted("tax_codes", list(tax_codes), String)
        query = select(
            ENTITIES.c.id, ENTITIES.c.tax_code, ENTITIES.c.admin_unit_id, ENTITIES.c.commune_code,
            ENTITIES.c.province_code,
        ).join(wanted, ENTITIES.c.tax_code == wanted.c.value)  # fmt: skip
        # Interned unit codes: a products import keeps one reference per entity, and codes repeat.
        return {
            row.tax_code: EntityRef(
                row.id,
                row.tax_code,
                row.admin_unit_id,
                sys.intern(row.commune_code),
                sys.intern(row.province_code),
            )
            for row in (await self.session.execute(query)).all()
        }

    async def upsert_entities(
        self, rows: Sequence[Mapping[str, Any]], update_columns: Sequence[str]
    ) -> tuple[int, int]:
        """Insert new tax codes and update the rows that differ; returns (created, updated).

        A row that matches what is stored is not touched (and not returned), so re-importing a
        file leaves ``updated_at`` alone.
        """
        if not rows:
            return 0, 0
        insertion = insert(ENTITIES)
        excluded = insertion.excluded
        statement = insertion.on_conflict_do_update(
            index_elements=[ENTITIES.c.tax_code],
            set_={**{column: excluded[column] for column in update_columns}, "updated_at": func.now()},
            where=tuple_(*(ENTITIES.c[column] for column in update_columns)).is_distinct_from(
                tuple_(*(excluded[column] for column in update_columns))
            ),
        ).returning(literal_column("(xmax = 0)", Boolean).label("inserted"))
        result = await self.session.execute(statement, list(rows))
        inserted = [bool(flag) for flag in result.scalars().all()]
        created = sum(inserted)
        return created, len(inserted) - created

    async def products_by_keys(
        self, names: Collection[tuple[uuid.UUID, str]], external_ids: Collection[tuple[uuid.UUID, str]]
    ) -> list[RowMapping]:
        """Existing products matching (entity, name) or (entity, external id) pairs."""
        found: dict[uuid.UUID, RowMapping] = {}
        for key_column, pairs in (("name", names), ("external_id", external_ids)):
            if not pairs:
                continue
            entity_ids, values = zip(*pairs, strict=True)
            keys = (
                func.unnest(
                    _array("entity_ids", list(entity_ids), UUID(as_uuid=True)),
                    _array("keys", list(values), String),
                )
                .table_valued(column("entity_id", UUID(as_uuid=True)), column("key", String))
                .render_derived(name="wanted")
            )
            query = select(*(PRODUCTS.c[name] for name in PRODUCT_COMPARED)).join(
                keys, and_(PRODUCTS.c.entity_id == keys.c.entity_id, PRODUCTS.c[key_column] == keys.c.key)
            )
            for row in (await self.session.execute(query)).mappings().all():
                found[row["id"]] = row
        return list(found.values())

    async def products_by_gtin(self, gtins: Collection[str]) -> dict[str, uuid.UUID]:
        """The product holding each of these GTINs (GTINs are unique across the registry)."""
        if not gtins:
            return {}
        wanted = _wanted("gtins", list(gtins), String)
        query = select(PRODUCTS.c.gtin, PRODUCTS.c.id).join(wanted, PRODUCTS.c.gtin == wanted.c.value)
        return {row.gtin: row.id for row in (await self.session.execute(query)).all()}

    async def take_code_numbers(self, counts: Mapping[str, int], year: int) -> dict[str, int]:
        """Reserve ``counts[commune]`` product-code numbers per commune in one statement.

        Returns each commune's last reserved number: the reserved ones are the ``count`` numbers
        ending there.
        """
        if not counts:
            return {}
        insertion = insert(SEQUENCES).values(
            [
                {"commune_code": commune, "year": year, "last_value": count}
                for commune, count in counts.items()
            ]
        )
        statement = insertion.on_conflict_do_update(
            index_elements=[SEQUENCES.c.commune_code, SEQUENCES.c.year],
            set_={"last_value": SEQUENCES.c.last_value + insertion.excluded.last_value},
        ).returning(SEQUENCES.c.commune_code, SEQUENCES.c.last_value)
        return {row.commune_code: row.last_value for row in (await self.session.execute(statement)).all()}

    async def insert_products(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert new products (one batched statement)."""
        if rows:
            await self.session.execute(insert(PRODUCTS), list(rows))

    async def update_products(self, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
        """Update products by id; each row holds ``id`` and every one of ``columns``."""
        if not rows:
            return
        # Bind names must differ from column names in an UPDATE's SET clause.
        statement = (
            update(PRODUCTS)
            .where(PRODUCTS.c.id == bindparam("row_id"))
            .values({column: bindparam(f"new_{column}") for column in columns} | {"updated_at": func.now()})
        )
        parameters = [
            {"row_id": row["id"], **{f"new_{column}": row[column] for column in columns}} for row in rows
        ]
        await self.session.execute(statement, parameters)

    async def record_product_changes(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append history entries (product_id, actor, actor_role, action, changes)."""
        if rows:
            await self.session.execute(insert(CHANGES), list(rows))

    async def stream_entities(
        self, visible: Visibility, columns: Sequence[str], batch_size: int
    ) -> AsyncIterator[Sequence[RowMapping]]:
        """The entities a caller may see, by tax code, in batches (a server-side cursor)."""
        query = select(*(ENTITIES.c[column] for column in columns)).where(
            *_visible(ENTITIES, visible, entity_column=ENTITIES.c.id)
        )
        result = await self.session.stream(
            query.order_by(ENTITIES.c.tax_code).execution_options(yield_per=batch_size)
        )
        async for partition in result.mappings().partitions():
            yield partition

    async def stream_products(
        self, visible: Visibility, columns: Sequence[str], batch_size: int
    ) -> AsyncIterator[Sequence[RowMapping]]:
        """The products a caller may see with their entity's tax code, in batches."""
        selected = [
            ENTITIES.c.tax_code.label(column) if column == "entity_tax_code" else PRODUCTS.c[column]
            for column in columns
        ]
        query = (
            select(*selected)
            .select_from(PRODUCTS.join(ENTITIES, PRODUCTS.c.entity_id == ENTITIES.c.id))
            .where(*_visible(PRODUCTS, visible, entity_column=PRODUCTS.c.entity_id))
            .order_by(ENTITIES.c.tax_code, PRODUCTS.c.name)
        )
        result = await self.session.stream(query.execution_options(yield_per=batch_size))
        async for partition in result.mappings().partitions():
            yield partition


def _array(name: str, values: list[Any], item_type: Any) -> BindParameter[Any]:
    # One array parameter, so every batch runs the same prepared statement; joined through unnest()
    # the planner probes the unique index per value (``= ANY($1)`` would compare every row with every value).
    return bindparam(name, values, type_=ARRAY(item_type))


def _wanted(name: str, values: list[Any], item_type: Any) -> Any:
    """The values as a one-column derived table ``wanted(value)`` to join against."""
    return (
        func.unnest(_array(name, values, item_type))
        .table_valued(column("value", item_type))
        .render_derived(name="wanted")
    )


def _visible(table: Table, visible: Visibility, *, entity_column: Any) -> list[ColumnElement[bool]]:
    return [
        visible_condition(
            visible, entity=entity_column, commune=table.c.commune_code, province=table.c.province_code
        )
    ]
