"""All SQL of the statistics: GROUP BY counts over results, applications and certificates (read only)."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, extract, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.applications.models import Application, Result
from services.scoring.certificates.models import Certificate
from shared.clock import VIETNAM

result = cast(Table, Result.__table__)
application = cast(Table, Application.__table__)
certificate = cast(Table, Certificate.__table__)

# A decision's year is its year in Vietnam (decided_at is an instant).
decided_year = extract("year", func.timezone(VIETNAM.key, result.c.decided_at))
RESULT_KEYS: dict[str, ColumnElement[Any]] = {
    "star": result.c.star,
    "level": result.c.level,
    "product_set": application.c.product_set,
    "province": result.c.province_code,
    "year": decided_year,
}
CERTIFICATE_KEYS: dict[str, ColumnElement[Any]] = {
    "star": certificate.c.star,
    "level": certificate.c.level,
    "product_set": certificate.c.product_set,
    "province": certificate.c.province_code,
    "year": certificate.c.issued_year,
}
IN_FORCE = ("active", "expiring")


def _results_within(query: Select[Any], province: str | None, year: int | None) -> Select[Any]:
    if province is not None:
        query = query.where(result.c.province_code == province)
    if year is not None:
        query = query.where(decided_year == year)
    return query


class StatsRepository:
    """Counts over scoring's tables within the request's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def count_results(
        self, by: str, *, province: str | None, year: int | None
    ) -> list[tuple[Any, int]]:
        """(key, count) of results grouped by ``by`` (the product set is the dossier's)."""
        key = RESULT_KEYS[by].label("key")
        query = select(key, func.count().label("count")).select_from(result)
        if by == "product_set":
            query = query.join(application, application.c.id == result.c.application_id)
        query = _results_within(query, province, year).group_by(key)
        return [(value, count) for value, count in await self.session.execute(query)]

    async def rated_products(
        self, *, outcomes: tuple[str, ...], province: str | None, year: int | None
    ) -> tuple[int, int]:
        """(products evaluated, those 3★+): each product's latest result with one of ``outcomes``."""
        latest = _results_within(
            select(result.c.product_id, result.c.star).where(result.c.outcome.in_(outcomes)), province, year
        )
        latest = latest.order_by(
            result.c.product_id, result.c.decided_at.desc(), result.c.pass_number.desc(), result.c.id.desc()
        ).ext(distinct_on(result.c.product_id))
        per_product = latest.subquery("latest")
        query = select(func.count(), func.count().filter(per_product.c.star >= 3)).select_from(per_product)
        evaluated, rated = (await self.session.execute(query)).one()
        return int(evaluated), int(rated)

    async def count_certificates_in_force(
        self, by: str, *, province: str | None, year: int | None, today: date
    ) -> list[tuple[Any, int]]:
        """(key, count) of certificates in force on ``today`` (active or expiring, not run out)."""
        key = CERTIFICATE_KEYS[by].label("key")
        query = (
            select(key, func.count().label("count"))
            .select_from(certificate)
            .where(certificate.c.status.in_(IN_FORCE), certificate.c.expires_on > today)
        )
        if province is not None:
            query = query.where(certificate.c.province_code == province)
        if year is not None:
            query = query.where(certificate.c.issued_year == year)
        return [(value, count) for value, count in await self.session.execute(query.group_by(key))]
