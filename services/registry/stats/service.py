"""Statistics rules: what each grouping means, the labels and order of its items.

Keys with no records are left out (a status or star nobody has is simply absent), and records
without a value (a product not yet rated has no star and no rating year) are counted under the
key ``null``, so the items always add up to ``total``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.entities.models import ENTITY_TYPES
from services.registry.products.classification import GROUP_NAMES, PRODUCT_SETS
from services.registry.products.models import PRODUCT_STATUSES
from services.registry.stats.repository import StatsRepository
from services.registry.stats.schemas import EntityStats, ProductStats, StatItem
from shared import clock

ENTITY_TYPE_LABELS = {
    "enterprise": "Doanh nghiệp",
    "cooperative": "Hợp tác xã",
    "cooperative_group": "Tổ hợp tác",
    "household_business": "Hộ sản xuất, kinh doanh",
}
STATUS_LABELS = {
    "idea": "Ý tưởng sản phẩm",
    "business_plan": "Phương án sản xuất kinh doanh",
    "implementing": "Đang triển khai",
    "ready_for_evaluation": "Chờ đánh giá, phân hạng",
    "certified": "Đã được công nhận",
    "lapsed": "Hết hiệu lực",
}
GROUP_ORDER = list(GROUP_NAMES)


def _key(value: Any) -> str | None:
    if value is None:
        return None
    return str(int(value)) if isinstance(value, Decimal | int) else str(value)


def _product_label(by: str, key: str) -> str | None:
    if by == "group":
        return GROUP_NAMES.get(key)
    if by == "status":
        return STATUS_LABELS.get(key)
    if by == "product_set":
        return PRODUCT_SETS[int(key)].name if int(key) in PRODUCT_SETS else None
    return None


def _order(by: str, item: StatItem) -> tuple[Any, ...]:
    if item.key is None:
        return (1, 0, "")
    if by in ("star", "year", "certificate_year", "product_set"):
        return (0, int(item.key), "")
    fixed = {"group": GROUP_ORDER, "status": list(PRODUCT_STATUSES), "type": list(ENTITY_TYPES)}.get(by)
    if fixed is not None and item.key in fixed:
        return (0, fixed.index(item.key), "")
    # Communes: the largest first, then by code.
    return (0, -item.count, item.key)


async def _with_commune_labels(session: AsyncSession, items: list[StatItem]) -> list[StatItem]:
    names = await StatsRepository(session).commune_names([item.key for item in items if item.key])
    return [item.model_copy(update={"label": names.get(item.key or "")}) for item in items]


async def product_stats(
    session: AsyncSession, by: str, *, province: str | None, certified_only: bool, include_lapsed: bool
) -> ProductStats:
    """Products counted by ``by`` (``certified_only``: only those in the public catalogue).

    By star, a product counts under the star of its current certificate (valid on Vietnam's today);
    one whose certificate lapsed counts as null unless ``include_lapsed`` keeps its last star.
    """
    rows = await StatsRepository(session).count_products(
        by, province=province, certified_only=certified_only, include_lapsed=include_lapsed,
        today=clock.today(),
    )  # fmt: skip
    items = [StatItem(key=_key(value), count=count) for value, count in rows]
    if by == "commune":
        items = await _with_commune_labels(session, items)
    else:
        items = [
            item.model_copy(update={"label": item.key and _product_label(by, item.key)}) for item in items
        ]
    items.sort(key=lambda item: _order(by, item))
    return ProductStats(
        by=by,
        province=province,
        certified_only=certified_only,
        include_lapsed=include_lapsed,
        total=sum(item.count for item in items),
        items=items,
    )


async def entity_stats(session: AsyncSession, by: str, *, province: str | None) -> EntityStats:
    """Entities counted by ``by``."""
    rows = await StatsRepository(session).count_entities(by, province=province)
    items = [StatItem(key=_key(value), count=count) for value, count in rows]
    if by == "commune":
        items = await _with_commune_labels(session, items)
    else:
        items = [item.model_copy(update={"label": ENTITY_TYPE_LABELS.get(item.key or "")}) for item in items]
    items.sort(key=lambda item: _order(by, item))
    return EntityStats(by=by, province=province, total=sum(i.count for i in items), items=items)
