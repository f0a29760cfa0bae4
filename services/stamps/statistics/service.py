"""The rules of stamp statistics: who reads whose figures, and the coverage share."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.stamps import policies
from services.stamps.statistics.repository import StatisticsRepository
from services.stamps.statistics.schemas import GroupBy, StampFigures, StampGroup, StampStatistics
from shared import clock
from shared.security.dependencies import require_authenticated
from shared.security.principal import Principal

FIGURES = tuple(name for name in StampFigures.model_fields if name != "active_stamp_coverage")


def _figures(row: Any) -> dict[str, Any]:
    values = {name: int(getattr(row, name)) for name in FIGURES}
    certified = values["certified_products"]
    share = values["certified_products_with_active_stamps"] / certified if certified else None
    return {**values, "active_stamp_coverage": round(share, 4) if share is not None else None}


async def stamp_statistics(
    session: AsyncSession, *, principal: Principal, group_by: GroupBy, province_code: str | None
) -> StampStatistics:
    """The caller's stamp figures by ``group_by`` (officers their province's, producers their own, admins and the
    national client all; anyone else none), within ``province_code`` if given."""
    require_authenticated(principal)
    today = clock.today()
    rows = await StatisticsRepository(session).figures(
        policies.statistics_visibility(principal), group_by=group_by, province=province_code, today=today
    )
    total, groups = rows[0], rows[1:]  # the grand total comes first, always (GROUPING SETS' empty set)
    return StampStatistics(
        group_by=group_by, province_code=province_code, as_of=today,
        total=StampFigures(**_figures(total)),
        items=[StampGroup(key=str(row.key), label=row.label, **_figures(row)) for row in groups],
    )  # fmt: skip
