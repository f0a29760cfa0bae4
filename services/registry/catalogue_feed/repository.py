"""Every SQL statement of the catalogue feed: the current public records against what was published."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from sqlalchemy import Table, Text, case, func, or_, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.catalogue.repository import entity, in_catalogue, product, public_record
from services.registry.catalogue_feed.models import CataloguePublication

publication = cast(Table, CataloguePublication.__table__)


@dataclass(frozen=True)
class Standing:
    """A product as the catalogue shows it now, beside what the feed last published of it."""

    product_id: uuid.UUID
    listed: bool
    record: str | None  # the public record's JSON text when listed
    status: str
    certificate_status: str | None
    certificate_expires_on: date | None
    published_hash: str | None
    published: bool | None  # None: never published


class FeedRepository:
    """Reads and writes catalogue_publication within the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def standings(self, product_ids: Sequence[uuid.UUID], today: date) -> list[Standing]:
        """Each product's current public record (one statement, the catalogue's own JSON builder)."""
        listed = in_catalogue(today)
        query = (
            select(
                product.c.id.label("product_id"), listed.label("listed"),
                case((listed, sql_cast(public_record(product), Text)), else_=None).label("record"),
                product.c.status, product.c.certificate_status, product.c.certificate_expires_on,
                publication.c.record_hash.label("published_hash"), publication.c.in_catalogue.label("published"),
            )
            .select_from(
                product.join(entity, entity.c.id == product.c.entity_id)
                .outerjoin(publication, publication.c.product_id == product.c.id)
            )
            .where(product.c.id.in_(list(product_ids)))
            .order_by(product.c.id)
        )  # fmt: skip
        rows = await self.session.execute(query)
        return [Standing(**row._asdict()) for row in rows.all()]

    async def record(self, published: Sequence[dict[str, Any]]) -> None:
        """Remember what was just published (product_id, record_hash, in_catalogue per product)."""
        if not published:
            return
        statement = insert(publication).values(list(published))
        changed = {
            "record_hash": statement.excluded.record_hash,
            "in_catalogue": statement.excluded.in_catalogue,
            "published_at": func.now(),
        }
        await self.session.execute(
            statement.on_conflict_do_update(index_elements=[publication.c.product_id], set_=changed)
        )

    async def candidates(
        self,
        today: date,
        *,
        after: uuid.UUID | None,
        limit: int,
        entity_ids: Sequence[uuid.UUID] | None = None,
    ) -> list[uuid.UUID]:
        """Ids of products in the catalogue or published as in it (of ``entity_ids`` if given), in id order."""
        query = (
            select(product.c.id)
            .outerjoin(publication, publication.c.product_id == product.c.id)
            .where(or_(in_catalogue(today), publication.c.in_catalogue.is_(True)))
            .order_by(product.c.id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(product.c.id > after)
        if entity_ids is not None:
            query = query.where(product.c.entity_id.in_(list(entity_ids)))
        return list((await self.session.scalars(query)).all())
