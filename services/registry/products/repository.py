"""All SQL touching products, their history, code sequences and media."""

from __future__ import annotations

import typing
import uuid
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    RowMapping,
    String,
    Table,
    and_,
    column,
    func,
    literal_column,
    select,
    true,
)  # fmt: skip
from sqlalchemy.dialects.postgresql import JSONB, UUID, aggregate_order_by, insert

from services.registry.admin_units.repository import AS_OF_COLUMNS, unit_as_of
from services.registry.entities.models import Entity
from services.registry.products.models import (
    Certificate,
    Media,
    Product,
    ProductChange,
    ProductCodeSequence,
)
from services.registry.snapshots import SNAPSHOT_VERSION, json_object
from shared.pagination import KeysetPage
from shared.repository import Repository, unnested
from shared.security.scopes import Visibility, visible_condition

PRODUCTS = typing.cast(Table, Product.__table__)
CHANGES = typing.cast(Table, ProductChange.__table__)
SEQUENCES = typing.cast(Table, ProductCodeSequence.__table__)
ENTITIES = typing.cast(Table, Entity.__table__)
UNIT_COLUMNS = AS_OF_COLUMNS


def _image_urls(images: ColumnElement[Any]) -> ColumnElement[Any]:
    """The URLs of a product's images (those that have one), in order, as a jsonb array (as the catalogue gives them)."""
    image = func.jsonb_array_elements(images).table_valued(column("value", JSONB), with_ordinality="n")
    image = image.render_derived(name="image", with_types=False)
    urls = func.jsonb_agg(aggregate_order_by(image.c.value["url"], image.c.n))
    found = select(urls).where(image.c.value.has_key("url")).scalar_subquery()
    return func.coalesce(found, literal_column("'[]'::jsonb"))


class ProductRepository(Repository[Product]):
    """Reads and writes products, their history, code sequences and media within the caller's transaction."""

    model = Product

    async def snapshot(self, product_id: uuid.UUID, on: date) -> Row[Any] | None:
        """The product, its entity, and its commune and province as of ``on``, in one statement."""
        commune = unit_as_of(Product.commune_code, "commune", on, "commune")
        province = unit_as_of(Product.province_code, "province", on, "province")
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

    async def snapshots(
        self, product_ids: Collection[uuid.UUID], on: date
    ) -> dict[uuid.UUID, dict[str, Any]]:
        """What ``registry.product.updated`` says of each product as it now stands (places as of ``on``).

        One statement for the whole list. Each snapshot takes the next ``snapshot_version``; the caller
        has written (so locked) the rows, so a later snapshot of a product carries a larger version.
        """
        if not product_ids:
            return {}
        wanted = unnested("wanted", id=(list(product_ids), UUID(as_uuid=True)))
        commune = unit_as_of(PRODUCTS.c.commune_code, "commune", on, "commune")
        province = unit_as_of(PRODUCTS.c.province_code, "province", on, "province")
        p = PRODUCTS.c
        data = json_object(
            id=p.id, version=SNAPSHOT_VERSION, product_code=p.product_code, external_id=p.external_id,
            name=p.name, name_en=p.name_en, entity_id=p.entity_id, entity_legal_name=ENTITIES.c.legal_name,
            entity_tax_code=ENTITIES.c.tax_code, product_set=p.product_set, product_group=p.product_group,
            sector=p.sector, classification=p.classification, gtin=p.gtin, status=p.status,
            ocop_star=p.ocop_star, certificate_number=p.certificate_number,
            certificate_status=p.certificate_status, certificate_level=p.certificate_level,
            certificate_issued_on=p.certificate_issued_on, certificate_expires_on=p.certificate_expires_on,
            certificate_authority=p.certificate_authority, images=_image_urls(p.images),
            commune_code=p.commune_code, commune_name=commune.c.name, province_code=p.province_code,
            province_name=province.c.name, updated_at=p.updated_at,
        )  # fmt: skip
        statement = (
            select(p.id, data.label("data"))
            .select_from(PRODUCTS)
            .join(wanted, p.id == wanted.c.id)
            .join(ENTITIES, ENTITIES.c.id == p.entity_id)
            .outerjoin(commune, true())
            .outerjoin(province, true())
        )
        return {row.id: row.data for row in (await self.session.execute(statement)).all()}

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
        for name, value in filters.items():
            if value is not None:
                query = query.where(getattr(Product, name) == value)
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
