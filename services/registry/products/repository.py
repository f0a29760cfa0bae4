"""All SQL touching products, their history, code sequences and media."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import Row, and_, case, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import aliased
from sqlalchemy.sql.selectable import LateralFromClause

from services.registry.admin_units.models import AdminUnit
from services.registry.entities.models import Entity
from services.registry.products.models import (
    Certificate,
    CertificationEvent,
    Media,
    Product,
    ProductChange,
    ProductCodeSequence,
)
from shared.pagination import KeysetPage
from shared.repository import Repository
from shared.security.scopes import Visibility, visible_condition

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

    async def find(
        self, entity_id: uuid.UUID, *, name: str | None = None, gtin: str | None = None
    ) -> Product | None:
        """A product of ``entity_id`` with this name, or any product with this GTIN."""
        query = select(Product)
        if gtin is not None:
            query = query.where(Product.gtin == gtin)
        else:
            query = query.where(Product.entity_id == entity_id, Product.name == name)
        return await self.session.scalar(query.limit(1))

    async def next_code_sequence(self, commune_code: str, year: int) -> int:
        """Atomically take the next product-code number of a commune and year."""
        statement = (
            insert(ProductCodeSequence)
            .values(commune_code=commune_code, year=year, last_value=1)
            .on_conflict_do_update(
                index_elements=["commune_code", "year"],
                set_={"last_value": ProductCodeSequence.last_value + 1},
            )
            .returning(ProductCodeSequence.last_value)
        )
        return int((await self.session.execute(statement)).scalar_one())

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
        query = select(Product).where(
            visible_condition(
                visible,
                entity=Product.entity_id,
                commune=Product.commune_code,
                province=Product.province_code,
            )
        )
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

    async def claim_event(self, event_id: uuid.UUID, product_id: uuid.UUID, request_hash: str) -> bool:
        """Record the event as received in this transaction; False if it was received before."""
        claimed = await self.session.execute(
            insert(CertificationEvent)
            .values(event_id=event_id, product_id=product_id, request_hash=request_hash)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(CertificationEvent.event_id)
        )
        return claimed.first() is not None

    async def get_event(self, event_id: uuid.UUID) -> CertificationEvent:
        """A received event (it exists: ``claim_event`` said so)."""
        return (
            await self.session.scalars(
                select(CertificationEvent).where(CertificationEvent.event_id == event_id)
            )
        ).one()

    async def answer_event(self, event_id: uuid.UUID, answer: dict[str, Any]) -> None:
        """Keep the answer given to an event, to give it again on a redelivery."""
        await self.session.execute(
            update(CertificationEvent).where(CertificationEvent.event_id == event_id).values(answer=answer)
        )

    async def store_media(self, sha256: str, content_type: str, data: bytes) -> None:
        """Keep an upload once per content hash."""
        statement = insert(Media).values(sha256=sha256, content_type=content_type, size=len(data), data=data)
        await self.session.execute(statement.on_conflict_do_nothing(index_elements=["sha256"]))

    async def get_media(self, sha256: str) -> Media | None:
        """A stored upload by its hash."""
        return await self.session.get(Media, sha256)
