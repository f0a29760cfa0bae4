"""The statistics' one statement: stamps by state and scans, certified products and their coverage, by group.

It reads the tables other packages write (batches and stamps, the snapshot, verification's per-stamp scan
summary) and writes none.
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Table,
    Text,
    and_,
    cast,
    exists,
    func,
    literal,
    select,
    true,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession

from services.stamps.batches.models import StampBatch
from services.stamps.lifecycle.models import Stamp
from services.stamps.snapshot.repository import CERTIFICATES, ENTITIES, IN_FORCE, PRODUCTS
from services.stamps.verification.models import StampScan
from shared.security.scopes import Visibility, visible_condition

BATCHES = typing.cast(Table, StampBatch.__table__)
STAMPS = typing.cast(Table, Stamp.__table__)
# Verification's per-stamp scan summary: how often each stamp has been scanned.
SCAN_SUMMARY = typing.cast(Table, StampScan.__table__)

# A stamp counts as issued once it has left the province's stock: issued, then active, suspended or
# revoked. Reserved stamps are not issued yet; a void one may never have been (cancelled stock).
ISSUED_STATES = ("issued", "active", "suspended", "revoked")
BATCH_KEYS = {
    "product": BATCHES.c.product_id,
    "entity": BATCHES.c.entity_id,
    "province": BATCHES.c.province_code,
}
PRODUCT_KEYS = {
    "product": PRODUCTS.c.id,
    "entity": PRODUCTS.c.entity_id,
    "province": PRODUCTS.c.province_code,
}


def _label(group_by: str, key: Any) -> Any:
    """The group's name from the snapshot: the product's, the producer's (its own event's, else its products'), the province's."""
    if group_by == "product":
        return select(PRODUCTS.c.name).where(PRODUCTS.c.id == key).scalar_subquery()
    if group_by == "entity":
        known = select(ENTITIES.c.legal_name).where(ENTITIES.c.id == key).scalar_subquery()
        told = (
            select(func.max(PRODUCTS.c.entity_legal_name))
            .where(PRODUCTS.c.entity_id == key)
            .scalar_subquery()
        )
        return func.coalesce(known, told)
    return select(func.max(PRODUCTS.c.province_name)).where(PRODUCTS.c.province_code == key).scalar_subquery()


class StatisticsRepository:
    """Reads over the stamps service's tables within the request's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def figures(
        self, visible: Visibility, *, group_by: str, province: str | None, today: date
    ) -> Sequence[Row[Any]]:
        """A row a group (``key``) and the total (``key`` NULL, first), in one statement (GROUPING SETS).

        Every key column is NOT NULL, so the one NULL key is the grand total of each side.
        """
        batch_key, product_key = BATCH_KEYS[group_by], PRODUCT_KEYS[group_by]
        batches_seen = and_(
            visible_condition(visible, entity=BATCHES.c.entity_id, province=BATCHES.c.province_code),
            BATCHES.c.province_code == province if province is not None else true(),
        )
        stamps = (
            select(
                batch_key.label("key"),
                _join_key(batch_key),
                func.count().filter(STAMPS.c.state.in_(ISSUED_STATES)).label("issued"),
                func.count().filter(STAMPS.c.state == "active").label("active"),
                func.count().filter(SCAN_SUMMARY.c.scan_count > 0).label("scanned"),
                func.coalesce(func.sum(SCAN_SUMMARY.c.scan_count), 0).label("scans"),
            )
            .select_from(
                BATCHES.join(STAMPS, STAMPS.c.batch_id == BATCHES.c.id).outerjoin(
                    SCAN_SUMMARY, SCAN_SUMMARY.c.serial == STAMPS.c.serial
                )
            )
            .where(batches_seen)
            .group_by(func.grouping_sets(tuple_(batch_key), tuple_()))
            .subquery("stamp_counts")
        )
        certified = (
            select(
                product_key.label("key"),
                exists()
                .where(
                    STAMPS.c.batch_id == BATCHES.c.id,
                    BATCHES.c.product_id == PRODUCTS.c.id,
                    STAMPS.c.state == "active",
                )
                .label("covered"),
            )
            .where(
                exists().where(
                    CERTIFICATES.c.product_id == PRODUCTS.c.id,
                    CERTIFICATES.c.status.in_(IN_FORCE),
                    CERTIFICATES.c.expires_on >= today,
                ),
                visible_condition(visible, entity=PRODUCTS.c.entity_id, province=PRODUCTS.c.province_code),
                PRODUCTS.c.province_code == province if province is not None else true(),
            )
            .subquery("certified")
        )
        coverage = (
            select(
                certified.c.key,
                _join_key(certified.c.key),
                func.count().label("certified"),
                func.count().filter(certified.c.covered).label("covered"),
            )
            .group_by(func.grouping_sets(tuple_(certified.c.key), tuple_()))
            .subquery("coverage")
        )
        key = func.coalesce(stamps.c.key, coverage.c.key)
        label = _label(group_by, key).label("label")
        zero = literal(0)
        query = (
            select(
                key.label("key"),
                label,
                func.coalesce(stamps.c.issued, zero).label("stamps_issued"),
                func.coalesce(stamps.c.active, zero).label("stamps_active"),
                func.coalesce(stamps.c.scanned, zero).label("stamps_scanned"),
                func.coalesce(stamps.c.scans, zero).label("scans"),
                func.coalesce(coverage.c.certified, zero).label("certified_products"),
                func.coalesce(coverage.c.covered, zero).label("certified_products_with_active_stamps"),
            )
            .select_from(stamps.join(coverage, stamps.c.join_key == coverage.c.join_key, full=True))
            .order_by(*_order(group_by, key, label))
        )
        return typing.cast(Sequence[Row[Any]], (await self.session.execute(query)).all())


def _join_key(key: Any) -> Any:
    """The key as text, '' for the total: FULL JOIN needs an equality it can hash (not IS NOT DISTINCT FROM)."""
    return func.coalesce(cast(key, Text), "").label("join_key")


def _order(group_by: str, key: Any, label: Any) -> list[ColumnElement[Any]]:
    """The total first, then provinces by code, products and producers by name (then id)."""
    if group_by == "province":
        return [key.asc().nulls_first()]
    return [key.is_not(None), label, key]
