"""All SQL touching products, their history, code sequences and media."""

from __future__ import annotations

import typing
import uuid
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Row, RowMapping, String, Table, and_, case, or_, select, true
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.orm import aliased
from sqlalchemy.sql.selectable import LateralFromClause

from services.registry.admin_units.models import AdminUnit
from services.registry.entities.models import Entity
from services.registry.products.models import (
    Certificate,
    Media,
    Product,
    ProductChange,
    ProductCodeSequence,
)
from shared.pagination import KeysetPage
from shared.repository import Repository, unnested
from shared.security.scopes import Visibility, visible_condition

PRODUCTS = typing.cast(Table, Product.__table__)
CHANGES = typing.cast(Table, ProductChange.__table__)
SEQUENCES = typing.cast(Table, ProductCodeSequence.__table__)
ENTITIES = typing.cast(Table, Entity.__table__)
UNIT_COLUMNS = ("code", "name", "unit_type", "valid_from", "valid_to")


def _unit_as_of(code: Any, level: str, on: date, name: str) -> LateralFromClause:
    """The unit with ``code`` in force on ``on``; else the one that ended last (codes are reused)."""
    unit = aliased(AdminUnit)
    in_force = and_(
        or_(unit.valid_from.is_(None), unit.valid_from <= on),
        or_(unit.valid_to.is_(None), unit.valid_to > on),
    )
    return (
        select(*(getattr(unit, column) for column in UNIT_COLUMNS))
        .where(unit.code == code, unit.level == level)
        .order_by(case((in_force, 0), else_=1), unit.valid_to.desc().nulls_first())
        .limit(1)
        .lateral(name)
    )


class ProductRepository(Repository[Product]):
    """Reads and writes products, their history, code sequences and media within the caller's transaction."""

    model = Product

    async def snapshot(self, product_id: uuid.UUID, on: date) -> Row[Any] | None:
        """The product, its entity, and its commune and province as of ``on``, in one statement."""
        commune = _unit_as_of(Product.commune_code, "commune", on, "commune")
        province = _unit_as_of(Product.province_code, "province", on, "province")
        units = [
            unit.c[column].label(f"{unit.name}_{column}")
            for unit in (commune, province)
            for column in UNIT_COLUMNS
        ]
        statement = (
            select(Product, Entity, *units)
            .join(Entity, Entity.id == Product.entity_id)
            .outerjoin(commune, true())
            .outerjoin(province, true())
            .where(Product.id == product_id)
        )
        return (await self.session.execute(statement)).first()

    async def rows_by_keys(
        self,
        names: Collection[tuple[uuid.UUID, str]],
        external_ids: Collection[tuple[uuid.UUID, str]],
        columns: Sequence[str],
    ) -> list[Row[Any]]:
        """Some columns of the products matching (entity, name) or (entity, external id) pairs."""
        found: dict[uuid.UUID, Row[Any]] = {}
        selected = [PRODUCTS.c[name] for name in dict.fromkeys(["id", *columns])]
        for key, pairs in (("name", names), ("external_id", external_ids)):
            if not pairs:
                continue
            entity_ids, values = zip(*pairs, strict=True)
            wanted = unnested(
                f"wanted_{key}", entity_id=(entity_ids, UUID(as_uuid=True)), value=(values, String)
            )
            query = select(*selected).join(
                wanted, and_(PRODUCTS.c.entity_id == wanted.c.entity_id, PRODUCTS.c[key] == wanted.c.value)
            )
            for row in (await self.session.execute(query)).all():
                found[row.id] = row
        return list(found.values())

    async def gtin_owners(self, gtins: Collection[str]) -> dict[str, uuid.UUID]:
        """The product holding each of these GTINs (GTINs are unique across the registry)."""
        if not gtins:
            return {}
        wanted = unnested("wanted", value=(list(gtins), String))
        query = select(PRODUCTS.c.gtin, PRODUCTS.c.id).join(wanted, PRODUCTS.c.gtin == wanted.c.value)
        return {row.gtin: row.id for row in (await self.session.execute(query)).all()}

    async def take_code_numbers(self, counts: Mapping[str, int], year: int) -> dict[str, int]:
        """Take ``counts[commune]`` product-code numbers per commune of ``year`` in one statement.

        Returns each commune's last number taken: the taken ones are the ``count`` numbers ending there.
        The sequence rows stay locked until the transaction ends.
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

    async def record_changes(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append history entries (product_id, actor, actor_role, action, changes) in one batched statement."""
        if rows:
            # RETURNING batches the rows into multi-row VALUES, as in ``insert_rows``.
            await self.session.execute(insert(CHANGES).returning(CHANGES.c.id), list(rows))

    async def record_change(
        self, product_id: uuid.UUID, actor: str, actor_role: str, action: str, changes: dict[str, Any]
    ) -> None:
        """Append one entry to the product's history."""
        self.session.add(
            ProductChange(
                product_id=product_id, actor=actor, actor_role=actor_role, action=action, changes=changes
            )
        )
        await self.session.flush()

    async def history(self, product_id: uuid.UUID) -> list[ProductChange]:
        """The product's history, oldest first."""
        query = select(ProductChange).where(ProductChange.product_id == product_id).order_by(ProductChange.id)
        return list((await self.session.scalars(query)).all())

    async def list(
        self, visible: Visibility, *, limit: int, after: tuple[str, uuid.UUID] | None, filters: dict[str, Any]
    ) -> KeysetPage[Product]:
        """A page of the products ``visible`` admits, ordered by folded name then id."""
        query = select(Product).where(_visible(visible))
        for column, value in filters.items():
            if value is not None:
                query = query.where(getattr(Product, column) == value)
        return await self.paginate(query, keys=(Product.name_folded, Product.id), after=after, limit=limit)

    async def claim_certificate(self, values: dict[str, Any]) -> Certificate:
        """The authority's certificate with this number, inserted from ``values`` if new; row-locked.

        A concurrent insert of the same number waits on the unique index, then finds the committed row.
        """
        inserted = await self.session.execute(
            insert(Certificate)
            .values(values)
            .on_conflict_do_nothing(constraint="authority_number")
            .returning(Certificate.id)
        )
        certificate_id = inserted.scalar_one_or_none()
        if certificate_id is None:
            query = select(Certificate).where(
                Certificate.issuing_authority == values["issuing_authority"],
                Certificate.certificate_number == values["certificate_number"],
            )
            return (await self.session.scalars(query.with_for_update())).one()
        return (await self.session.scalars(select(Certificate).where(Certificate.id == certificate_id))).one()

    async def stream(
        self, visible: Visibility, columns: Sequence[str], batch_size: int
    ) -> AsyncIterator[Sequence[RowMapping]]:
        """Some columns of the products ``visible`` admits (``entity_tax_code`` from their entity), in batches."""
        selected = [
            ENTITIES.c.tax_code.label(name) if name == "entity_tax_code" else PRODUCTS.c[name]
            for name in columns
        ]
        query = (
            select(*selected)
            .select_from(PRODUCTS.join(ENTITIES, PRODUCTS.c.entity_id == ENTITIES.c.id))
            .where(_visible(visible))
            .order_by(ENTITIES.c.tax_code, PRODUCTS.c.name)
            .execution_options(yield_per=batch_size)
        )
        result = await self.session.stream(query)
        async for partition in result.mappings().partitions():
            yield partition

    async def store_media(self, sha256: str, content_type: str, data: bytes) -> None:
        """Keep an upload once per content hash."""
        statement = insert(Media).values(sha256=sha256, content_type=content_type, size=len(data), data=data)
        await self.session.execute(statement.on_conflict_do_nothing(index_elements=["sha256"]))

    async def get_media(self, sha256: str) -> Media | None:
        """A stored upload by its hash."""
        return await self.session.get(Media, sha256)


def _visible(visible: Visibility) -> Any:
    return visible_condition(
        visible,
        entity=PRODUCTS.c.entity_id,
        commune=PRODUCTS.c.commune_code,
        province=PRODUCTS.c.province_code,
    )
