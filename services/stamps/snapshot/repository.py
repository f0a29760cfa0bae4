"""All SQL touching the stamps service's snapshot of products, producers and certificates."""

from __future__ import annotations

import typing
import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Row, Table, and_, case, or_, select, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.sql.selectable import LateralFromClause

from services.stamps.snapshot.models import CertificateSnapshot, EntitySnapshot, ProductSnapshot
from shared.repository import Repository

PRODUCTS = typing.cast(Table, ProductSnapshot.__table__)
ENTITIES = typing.cast(Table, EntitySnapshot.__table__)
CERTIFICATES = typing.cast(Table, CertificateSnapshot.__table__)

IN_FORCE = ("active", "expiring")
# What certification() reads of the current certificate (as ``c_<name>``).
CURRENT_COLUMNS = tuple(
    CERTIFICATES.c[name]
    for name in ("id", "number", "star", "level", "status", "issued_on", "expires_on", "issuing_authority",
                 "revocation_ground")
)  # fmt: skip


class SnapshotRepository(Repository[ProductSnapshot]):
    """Upserts and reads of the snapshot, within the caller's transaction."""

    model = ProductSnapshot

    async def keep_newer(self, table: Table, values: Mapping[str, Any]) -> bool:
        """Insert the record, or replace the stored one if ``values`` has a larger version; whether it was kept."""
        statement = insert(table).values(dict(values))
        changed = {name: statement.excluded[name] for name in values if name != "id"}
        upsert = statement.on_conflict_do_update(
            index_elements=[table.c.id],
            set_={**changed, "received_at": statement.excluded.received_at},
            where=table.c.version < statement.excluded.version,
        ).returning(table.c.id)
        return (await self.session.execute(upsert)).first() is not None

    async def certified_with_gtin(self, today: date, limit: int) -> list[uuid.UUID]:
        """Products with a GTIN whose current certificate is in force on ``today``, by name (the demo's)."""
        current = current_certificate(PRODUCTS.c.id, today)
        query = (
            select(PRODUCTS.c.id)
            .join(current, true())
            .where(
                PRODUCTS.c.gtin.is_not(None),
                or_(*(current.c.c_status == status for status in IN_FORCE)),
                current.c.c_expires_on >= today,
            )
            .order_by(PRODUCTS.c.name, PRODUCTS.c.id)
            .limit(limit)
        )
        return list((await self.session.scalars(query)).all())

    async def owners_of_gtins(self, gtins: list[str]) -> dict[str, tuple[uuid.UUID, str]]:
        """Each known GTIN-14's producer and province (one statement for the whole list).

        The snapshot keeps a GTIN as the registry wrote it (8, 12, 13 or 14 digits): each is looked up in
        every length it may have been written in, and answered under its 14 digits.
        """
        if not gtins:
            return {}
        forms = {
            gtin[14 - length :]
            for gtin in gtins
            for length in (8, 12, 13, 14)
            if gtin.startswith("0" * (14 - length))
        }
        query = select(PRODUCTS.c.gtin, PRODUCTS.c.entity_id, PRODUCTS.c.province_code).where(
            PRODUCTS.c.gtin.in_(sorted(forms))
        )
        return {
            row.gtin.zfill(14): (row.entity_id, row.province_code)
            for row in (await self.session.execute(query)).all()
        }

    async def province_of_entity(self, entity_id: uuid.UUID) -> str | None:
        """The province of a producer's products (None if the snapshot holds none of its products)."""
        query = select(PRODUCTS.c.province_code).where(PRODUCTS.c.entity_id == entity_id).limit(1)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def commune(self, commune_code: str) -> tuple[str, str] | None:
        """The commune's name and province as the newest product in it names them (None: no named product there)."""
        query = (
            select(PRODUCTS.c.commune_name, PRODUCTS.c.province_code)
            .where(PRODUCTS.c.commune_code == commune_code, PRODUCTS.c.commune_name.is_not(None))
            .order_by(PRODUCTS.c.registry_updated_at.desc(), PRODUCTS.c.id)
            .limit(1)
        )
        row = (await self.session.execute(query)).first()
        return None if row is None else (row.commune_name, row.province_code)

    async def is_empty(self) -> bool:
        """Whether no product has been received yet."""
        return (await self.session.execute(select(PRODUCTS.c.id).limit(1))).first() is None

    async def certification(self, product_id: uuid.UUID, today: date) -> Row[Any] | None:
        """The product, its producer's newest name and its current certificate (``c_*``), in one statement.

        The current certificate is one in force today if any (the latest issued), else the latest issued
        that was not superseded, else the latest issued.
        """
        current = current_certificate(PRODUCTS.c.id, today)
        query = (
            select(PRODUCTS, newest_entity_name().label("entity_name"), current)
            .outerjoin(ENTITIES, ENTITIES.c.id == PRODUCTS.c.entity_id)
            .outerjoin(current, true())
            .where(PRODUCTS.c.id == product_id)
        )
        return (await self.session.execute(query)).first()


def current_certificate(
    product_id: ColumnElement[Any], today: date | ColumnElement[Any]
) -> LateralFromClause:
    """The product's current certificate (columns ``c_*``) as a lateral subquery, for every reader.

    The current certificate is one in force today if any (the latest issued), else the latest issued
    that was not superseded, else the latest issued.
    """
    c = CERTIFICATES
    # Comparisons, not IN: the verification path compiles this once with its constants inline.
    in_force = and_(or_(*(c.c.status == status for status in IN_FORCE)), c.c.expires_on >= today)
    labelled = [column.label(f"c_{column.name}") for column in CURRENT_COLUMNS]
    return (
        select(*labelled)
        .where(c.c.product_id == product_id)
        .order_by(
            case((in_force, 0), else_=1),
            case((c.c.status == "superseded", 1), else_=0),
            c.c.issued_on.desc(),
            c.c.version.desc(),
        )
        .limit(1)
        .lateral("current")
    )


def newest_entity_name() -> ColumnElement[str]:
    """The producer's newest name: products and entities take versions from one sequence."""
    return case(
        (ENTITIES.c.version > PRODUCTS.c.version, ENTITIES.c.legal_name),
        else_=PRODUCTS.c.entity_legal_name,
    )
