"""Statistics rules: who reads which counts, what each grouping means, labels and order.

Certificates in force are public (the registry's catalogue shows the same products), so their counts
are too. Results also count the products that were not recognised, which are their producers' own
business: their counts are for admins, our services and the national system (every province) and
for a province's officers (their province only). Only aggregates are served, never a record.
Keys with no records are left out; the items add up to ``total``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import policies
from services.scoring.applications.service import DECIDING_OUTCOMES
from services.scoring.stats.errors import ResultStatsForbidden
from services.scoring.stats.repository import StatsRepository
from services.scoring.stats.schemas import CertificateStats, RatedShare, ResultStats, StatItem
from shared import clock
from shared.security.dependencies import require_authenticated
from shared.security.principal import Principal
from shared.security.scopes import Reach

LEVEL_LABELS = {"district": "Cấp huyện", "province": "Cấp tỉnh", "central": "Cấp trung ương"}
LEVEL_ORDER = list(LEVEL_LABELS)
SHARE_PLACES = Decimal("0.0001")


def results_province(principal: Principal, asked: str | None) -> str | None:
    """The province a caller's results' statistics are limited to (None: every province), or 403.

    Admins, services and the national system read every province; a province officer only its own
    (asking for no province means its own); everyone else none.
    """
    visible = policies.results_visibility(principal)
    if visible.reach is Reach.everything:
        return asked
    if visible.reach is Reach.province:
        if asked is not None and asked != visible.value:
            raise ResultStatsForbidden(
                "A province officer reads the statistics of its own province only",
                field="query.province_code",
            )
        return str(visible.value)
    raise ResultStatsForbidden(
        "Results' statistics are for admins, the national system and province officers"
    )


def _key(value: Any) -> str | None:
    if value is None:
        return None
    return str(int(value)) if isinstance(value, Decimal | int) else str(value)


def _order(by: str, item: StatItem) -> tuple[Any, ...]:
    if item.key is None:
        return (1, 0, "")
    if by in ("star", "year", "product_set"):
        return (0, int(item.key), "")
    if by == "level" and item.key in LEVEL_ORDER:
        return (0, LEVEL_ORDER.index(item.key), "")
    return (0, 0, item.key)


def _items(by: str, rows: list[tuple[Any, int]]) -> list[StatItem]:
    items = [
        StatItem(key=_key(value), label=LEVEL_LABELS.get(str(value)) if by == "level" else None, count=count)
        for value, count in rows
    ]
    return sorted(items, key=lambda item: _order(by, item))


async def result_stats(
    session: AsyncSession, *, principal: Principal, by: str, province_code: str | None, year: int | None
) -> ResultStats:
    """Results (each a council's decision on one pass) counted by ``by``, and the share of evaluated
    products whose latest decided result rates them 3★ or more (within the same filters)."""
    require_authenticated(principal)
    province = results_province(principal, province_code)
    repository = StatsRepository(session)
    items = _items(by, await repository.count_results(by, province=province, year=year))
    evaluated, rated = await repository.rated_products(
        outcomes=DECIDING_OUTCOMES, province=province, year=year
    )
    share = float((Decimal(rated) / evaluated).quantize(SHARE_PLACES)) if evaluated else None
    return ResultStats(
        by=by, province_code=province, year=year, total=sum(item.count for item in items), items=items,
        rated=RatedShare(products_evaluated=evaluated, products_3_star_plus=rated, share_3_star_plus=share),
    )  # fmt: skip


async def certificate_stats(
    session: AsyncSession, *, by: str, province_code: str | None, year: int | None
) -> CertificateStats:
    """Certificates in force today in Vietnam (active or expiring, not run out) counted by ``by``; the
    year is the year of issue."""
    rows = await StatsRepository(session).count_certificates_in_force(
        by, province=province_code, year=year, today=clock.today()
    )
    items = _items(by, rows)
    return CertificateStats(
        by=by, province_code=province_code, year=year, total=sum(item.count for item in items), items=items
    )
