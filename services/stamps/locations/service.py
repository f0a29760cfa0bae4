"""The rules of producers' sites: who registers, reads and changes them; their URIs; the places the trace names."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncSession

from services.stamps import policies
from services.stamps.anomalies.geography import PROVINCES
from services.stamps.locations import identifiers
from services.stamps.locations.errors import GlnTaken, LocationNotFound
from services.stamps.locations.models import Location
from services.stamps.locations.repository import LocationRepository
from services.stamps.locations.schemas import LocationCreate, LocationFilter, LocationUpdate, Place
from services.stamps.snapshot import service as snapshot
from shared.errors import InvalidField
from shared.pagination import KeysetPage, decode_cursor
from shared.security import scopes
from shared.security.dependencies import Forbidden, require_authenticated
from shared.security.principal import Principal, Role

# Fields a change may clear; name, kind and province are always there.
_CLEARABLE = frozenset({"address", "commune_code", "commune_name", "latitude", "longitude"})


def _owner(location: Location) -> scopes.Place:
    return scopes.Place(location.entity_id, location.commune_code, location.province_code)


def _check_province(field: str, code: str) -> None:
    if code not in PROVINCES:
        raise InvalidField(field, "not the code of one of Vietnam's 34 provinces", code="unknown_province")


async def _commune_name(
    session: AsyncSession, commune_code: str | None, given: str | None, province_code: str
) -> str | None:
    """The name a site's commune is shown by: the registry's, where the snapshot knows the commune (a name
    given must be that one, and the commune must lie in the site's province); otherwise the name given."""
    if commune_code is None:
        if given is not None:
            raise InvalidField("body.commune_name", "only with a commune_code", code="unexpected")
        return None
    known = await snapshot.commune(session, commune_code=commune_code)
    if known is None:
        return given
    name, province = known
    if province != province_code:
        raise InvalidField(
            "body.commune_code", f"the registry places commune {commune_code} in province {province}",
            code="commune_province",
        )  # fmt: skip
    if given is not None and " ".join(given.split()).casefold() != " ".join(name.split()).casefold():
        raise InvalidField(
            "body.commune_name", f"the registry names commune {commune_code} '{name}'", code="commune_name"
        )
    return name


def _check_coordinates(latitude: float | None, longitude: float | None) -> None:
    """A position is both coordinates or neither."""
    if (latitude is None) != (longitude is None):
        missing = "body.longitude" if longitude is None else "body.latitude"
        raise InvalidField(missing, "latitude and longitude are given together", code="missing")


def _entity_of(principal: Principal, data: LocationCreate) -> uuid.UUID:
    """Whose site is being registered: the producer's own entity, or the one an admin names."""
    if principal.role is Role.producer:
        own = scopes.visibility(principal).value
        if not isinstance(own, uuid.UUID):
            raise Forbidden("The token names no producer.")
        if data.entity_id is not None and data.entity_id != own:
            raise Forbidden("A producer registers its own sites.")
        return own
    if principal.role is Role.admin:
        if data.entity_id is None:
            raise InvalidField("body.entity_id", "an admin says whose site it is", code="missing")
        return data.entity_id
    raise Forbidden("Sites are registered by their producer.")


async def register_location(
    session: AsyncSession, *, principal: Principal, data: LocationCreate, resolver_host: str
) -> Location:
    """A producer's new site: named by its SGLN when it has a GLN, otherwise by ``https://{resolver_host}/loc/{id}``."""
    require_authenticated(principal)
    entity_id = _entity_of(principal, data)
    _check_province("body.province_code", data.province_code)
    _check_coordinates(data.latitude, data.longitude)
    repository = LocationRepository(session)
    location_id = uuid.uuid4()
    if data.gln is not None:
        problem = identifiers.gln_problem(data.gln)
        if problem is not None:
            raise InvalidField("body.gln", problem, code="gln")
        if data.gln_company_prefix_length is None:
            raise InvalidField(
                "body.gln_company_prefix_length",
                "required with a GLN (the SGLN splits it there)",
                code="missing",
            )
        problem = identifiers.prefix_length_problem(data.gln, data.gln_company_prefix_length)
        if problem is not None:
            raise InvalidField("body.gln_company_prefix_length", problem, code="prefix_length")
        if await repository.gln_taken(data.gln):
            raise GlnTaken(f"GLN {data.gln} names another registered site", field="body.gln")
        uri = identifiers.sgln_uri(data.gln, data.gln_company_prefix_length)
    elif data.gln_company_prefix_length is not None:
        raise InvalidField("body.gln_company_prefix_length", "only with a GLN", code="unexpected")
    else:
        uri = identifiers.platform_uri(resolver_host, location_id)
    fields = data.model_dump(exclude={"entity_id", "gln_company_prefix_length"})
    fields["commune_name"] = await _commune_name(
        session, data.commune_code, data.commune_name, data.province_code
    )
    return await repository.add(Location(id=location_id, uri=uri, entity_id=entity_id, **fields))


async def list_locations(
    session: AsyncSession, *, principal: Principal, where: LocationFilter, limit: int, cursor: str | None
) -> KeysetPage[Location]:
    """A page of the sites the caller may see, by name."""
    require_authenticated(principal)
    return await LocationRepository(session).list(
        policies.location_visibility(principal),
        where,
        limit=limit,
        after=decode_cursor(cursor, str, uuid.UUID),
    )


async def get_location(session: AsyncSession, *, principal: Principal, location_id: uuid.UUID) -> Location:
    """The site, if the caller may see it; otherwise LocationNotFound (never a hint that it exists)."""
    require_authenticated(principal)
    location = await LocationRepository(session).get(location_id)
    if location is None or not policies.can_read_location(principal, _owner(location)):
        raise LocationNotFound(f"No location {location_id}")
    return location


async def update_location(
    session: AsyncSession, *, principal: Principal, location_id: uuid.UUID, data: LocationUpdate
) -> Location:
    """Change a site's description (its producer or an admin); its URI and GLN stay."""
    require_authenticated(principal)
    repository = LocationRepository(session)
    location = await repository.get_for_update(location_id)
    if location is None or not policies.can_read_location(principal, _owner(location)):
        raise LocationNotFound(f"No location {location_id}")
    if not policies.can_manage_location(principal, _owner(location)):
        raise Forbidden("A site is changed by its own producer.")
    changes = data.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None and name not in _CLEARABLE:
            raise InvalidField(f"body.{name}", "cannot be cleared", code="missing")
    if "province_code" in changes:
        _check_province("body.province_code", changes["province_code"])
    _check_coordinates(
        changes.get("latitude", location.latitude), changes.get("longitude", location.longitude)
    )
    if changes.keys() & {"commune_code", "commune_name", "province_code"}:
        # A new commune is named afresh (the registry's name, or the one given); the same one keeps its name.
        code = changes.get("commune_code", location.commune_code)
        kept = location.commune_name if code == location.commune_code else None
        changes["commune_name"] = await _commune_name(
            session,
            code,
            changes.get("commune_name", kept),
            changes.get("province_code", location.province_code),
        )
    for name, value in changes.items():
        setattr(location, name, value)
    return await repository.save(location)


def _place(location: Location) -> Place:
    province = PROVINCES.get(location.province_code)
    return Place(
        id=location.id, uri=location.uri, gln=location.gln, name=location.name, kind=location.kind,
        commune_code=location.commune_code, commune_name=location.commune_name,
        province_code=location.province_code,
        province_name=province.name if province else None, latitude=location.latitude,
        longitude=location.longitude,
    )  # fmt: skip


async def public_place(session: AsyncSession, *, location_id: uuid.UUID) -> Place:
    """A site's public description (name, kind, place) for anyone: the trace view's and the /loc/{id} URI's."""
    location = await LocationRepository(session).get(location_id)
    if location is None:
        raise LocationNotFound(f"No location {location_id}")
    return _place(location)


async def owned_uris(session: AsyncSession, *, entity_id: uuid.UUID) -> set[str]:
    """Every form the entity's sites are named by: each one's URI and, for a site with a GLN, its Digital
    Link (``https://id.gs1.org/414/{gln}``) and that link's path (``/414/{gln}``)."""
    owned: set[str] = set()
    for uri, gln in await LocationRepository(session).uris_of(entity_id):
        owned.add(uri)
        if gln is not None:
            owned |= {identifiers.digital_link(gln), identifiers.digital_link_path(gln)}
    return owned


async def describe(session: AsyncSession, *, uris: Collection[str]) -> dict[str, Place]:
    """The place of each of ``uris`` that names a registered site, keyed by the URI as given (one statement).

    A URI is the site's own (SGLN or platform URI, scheme and host in any case) or any form naming its GLN:
    an SGLN URN however the prefix is split, a Digital Link on any host, or its path ``/414/{gln}``.
    Unknown URIs are left out.
    """
    # Each stored form asked for, with the URIs as given that stand for it.
    by_uri: dict[str, list[str]] = {}
    by_gln: dict[str, list[str]] = {}
    for uri in set(uris):
        by_uri.setdefault(identifiers.same_uri(uri), []).append(uri)
        gln = identifiers.gln_of(uri)
        if gln is not None:
            by_gln.setdefault(gln, []).append(uri)
    found = await LocationRepository(session).named(uris=set(by_uri), glns=set(by_gln))
    places: dict[str, Place] = {}
    for location in found:
        place = _place(location)
        for uri in (*by_uri.get(location.uri, ()), *by_gln.get(location.gln or "", ())):
            places[uri] = place
    return places
