"""All SQL of the statistics: Core GROUP BY counts."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, case, extract, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.admin_units.models import AdminUnit
from services.registry.catalogue.repository import in_catalogue
from services.registry.entities.models import Entity
from services.registry.products.models import CURRENT_CERTIFICATE_STATUSES, Product

product = cast(Table, Product.__table__)
entity = cast(Table, Entity.__table__)
admin_unit = cast(Table, AdminUnit.__table__)

PRODUCT_KEYS: dict[str, ColumnElement[Any]] = {
    "group": product.c.product_group,
    "status": product.c.status,
    "star": product.c.ocop_star,
    "commune": product.c.commune_code,
    "year": extract("year", product.c.first_certified_on),
    "certificate_year": extract("year", product.c.certificate_issued_on),
    "product_set": product.c.product_set,
}
ENTITY_KEYS: dict[str, ColumnElement[Any]] = {"type": entity.c.entity_type, "commune": entity.c.commune_code}


def certificate_current(today: date) -> ColumnElement[bool]:
    """The product carries a certificate in force on ``today`` (active or expiring, not run out)."""
    return and_(
        product.c.status == "certified",
        product.c.certificate_status.in_(CURRENT_CERTIFICATE_STATUSES),
        product.c.certificate_expires_on >= today,
    )


def _count_query(key: ColumnElement[Any], table: Table) -> Any:
    grouped = key.label("key")
    return select(grouped, func.count().label("count")).select_from(table).group_by(grouped)


class StatsRepository:
    """Counts over the registry within the request's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def count_products(
        self, by: str, *, province: str | None, certified_only: bool, include_lapsed: bool, today: date
    ) -> list[tuple[Any, int]]:
        """(key, count) of products grouped by ``by``; a key is None for products without a value.

        A star is the current certificate's: a product whose certificate lapsed has none (None) unless
        ``include_lapsed``, which keeps the star its last certificate gave.
        """
        key = PRODUCT_KEYS[by]
        if by == "star" and not include_lapsed:
            key = case((certificate_current(today), product.c.ocop_star), else_=None)
        query = _count_query(key, product)
        if province is not None:
            query = query.where(product.c.province_code == province)
        if certified_only:
            query = query.where(in_catalogue(today))
        return [(key, count) for key, count in await self.session.execute(query)]

    async def count_entities(self, by: str, *, province: str | None) -> list[tuple[Any, int]]:
        """(key, count) of entities grouped by ``by``."""
        query = _count_query(ENTITY_KEYS[by], entity)
        if province is not None:
            query = query.where(entity.c.province_code == province)
        return [(key, count) for key, count in await self.session.execute(query)]

    async def commune_names(self, codes: list[str]) -> dict[str, str]:
        """The name of each commune code (the unit valid now, else the one that ended last)."""
        query = (
            select(admin_unit.c.code, admin_unit.c.name)
            .where(admin_unit.c.code.in_(codes), admin_unit.c.level == "commune")
            .order_by(admin_unit.c.code, admin_unit.c.valid_to.desc().nulls_first())
            .ext(distinct_on(admin_unit.c.code))
        )
        return {row.code: row.name for row in await self.session.execute(query)}
