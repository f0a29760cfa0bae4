"""Every SQL statement on stamps.epcis_location."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence

from sqlalchemy import Row, Text, any_, bindparam, exists, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY

from services.stamps.locations.models import Location
from services.stamps.locations.schemas import LocationFilter
from shared.pagination import KeysetPage
from shared.repository import Repository
from shared.security.scopes import Visibility, visible_condition

# Advisory-lock namespace: two registrations of one GLN wait for each other (the table has no unique GLN index).
_GLN_LOCK = "stamps.epcis_location.gln:"


class LocationRepository(Repository[Location]):
    """Reads and writes producers' sites within the caller's transaction."""

    model = Location

    async def list(
        self, visible: Visibility, where: LocationFilter, *, limit: int, after: tuple[str, uuid.UUID] | None
    ) -> KeysetPage[Location]:
        """A page of the sites ``visible`` admits, ordered by name then id."""
        query = select(Location).where(
            visible_condition(
                visible,
                entity=Location.entity_id,
                commune=Location.commune_code,
                province=Location.province_code,
            )
        )
        if where.kind is not None:
            query = query.where(Location.kind == where.kind)
        if where.province_code is not None:
            query = query.where(Location.province_code == where.province_code)
        if where.entity_id is not None:
            query = query.where(Location.entity_id == where.entity_id)
        return await self.paginate(query, keys=(Location.name, Location.id), after=after, limit=limit)

    async def gln_taken(self, gln: str) -> bool:
        """Whether a site holds ``gln``; locks the GLN until the transaction ends so a racing registration waits."""
        await self.session.execute(
            select(func.pg_advisory_xact_lock(func.hashtextextended(_GLN_LOCK + gln, 0)))
        )
        return bool(await self.session.scalar(select(exists().where(Location.gln == gln))))

    async def uris_of(self, entity_id: uuid.UUID) -> Sequence[Row[str, str | None]]:
        """The URI and GLN of each of the entity's sites."""
        query = select(Location.uri, Location.gln).where(Location.entity_id == entity_id)
        return (await self.session.execute(query)).all()

    async def named(self, *, uris: Collection[str], glns: Collection[str]) -> Sequence[Location]:
        """The sites whose URI is one of ``uris`` or whose GLN is one of ``glns``: one statement."""
        if not uris and not glns:
            return []
        # Two array parameters whatever the number of URIs: one prepared statement for every call.
        uri_list = bindparam("uris", list(uris), type_=ARRAY(Text))
        gln_list = bindparam("glns", list(glns), type_=ARRAY(Text))
        query = select(Location).where(or_(Location.uri == any_(uri_list), Location.gln == any_(gln_list)))
        return (await self.session.scalars(query)).all()
