"""Entity rules: who registers them, unique tax codes, the commune they belong to."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import policies
from services.registry.admin_units import service as admin_units_service
from services.registry.changes.errors import NeedsApproval
from services.registry.entities.errors import EntityNotFound, TaxCodeTaken
from services.registry.entities.models import Entity
from services.registry.entities.repository import EntityFilter, EntityRepository
from services.registry.entities.schemas import EntityCreate, EntityUpdate
from shared import clock
from shared.pagination import KeysetPage, decode_cursor
from shared.security.dependencies import Forbidden, require_authenticated
from shared.security.principal import Principal, Role
from shared.security.scopes import Place
from shared.text import fold


def place_of(entity: Entity) -> Place:
    """Where an entity belongs, for the access rules."""
    return Place(entity.id, entity.commune_code, entity.province_code)


async def register_entity(session: AsyncSession, *, principal: Principal, data: EntityCreate) -> Entity:
    """Register an entity in a commune valid today; only staff of that unit may."""
    require_authenticated(principal)
    commune = await admin_units_service.resolve_commune(
        session, data.commune_code, clock.today(), field="body.commune_code"
    )
    if not policies.can_register_in(principal, commune.code, commune.province_code):
        raise Forbidden("Only officers of the entity's commune or province (or an admin) register entities.")
    repository = EntityRepository(session)
    if await repository.get_by_tax_code(data.tax_code):
        raise TaxCodeTaken(f"Tax code {data.tax_code} is already registered", field="body.tax_code")
    values = data.model_dump(exclude={"commune_code"})
    entity = Entity(
        **values,
        name_folded=fold(data.legal_name),
        admin_unit_id=commune.id,
        commune_code=commune.code,
        province_code=commune.province_code,
    )
    try:
        async with session.begin_nested():
            return await repository.add(entity)
    except IntegrityError as exc:  # a concurrent registration won the race for the tax code
        raise TaxCodeTaken(f"Tax code {data.tax_code} is already registered", field="body.tax_code") from exc


async def get_entity(session: AsyncSession, *, principal: Principal, entity_id: uuid.UUID) -> Entity:
    """The entity, if the caller may see it; otherwise EntityNotFound (never a hint that it exists)."""
    require_authenticated(principal)
    entity = await EntityRepository(session).get(entity_id)
    if entity is None or not policies.can_read(principal, place_of(entity)):
        raise EntityNotFound(f"No entity {entity_id}")
    return entity


# Who the entity is in law: a producer changes these only through a change request.
IDENTITY_FIELDS = ("legal_name", "tax_code")


def _refuse_identity_change_in_place(principal: Principal, entity: Entity, changes: dict[str, Any]) -> None:
    """An entity's legal name and tax code change only with an officer's approval."""
    if principal.role is not Role.producer:
        return
    changed = [
        field
        for field in IDENTITY_FIELDS
        if changes.get(field) is not None and changes[field] != getattr(entity, field)
    ]
    if changed:
        raise NeedsApproval(
            f"{', '.join(changed)} change only with an officer's approval: "
            f"ask at /v1/entities/{entity.id}/change-requests",
            field=f"body.{changed[0]}",
            change_requests=f"/v1/entities/{entity.id}/change-requests",
        )


async def update_entity(
    session: AsyncSession, *, principal: Principal, entity_id: uuid.UUID, data: EntityUpdate
) -> Entity:
    """Apply the given changes; a new commune must be valid today, a new tax code unused."""
    entity = await get_entity(session, principal=principal, entity_id=entity_id)
    if not policies.can_edit(principal, place_of(entity)):
        raise Forbidden("You may read this entity but not change it.")
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    _refuse_identity_change_in_place(principal, entity, changes)
    new_tax_code = changes.get("tax_code")
    if (
        new_tax_code
        and new_tax_code != entity.tax_code
        and await EntityRepository(session).get_by_tax_code(new_tax_code)
    ):
        raise TaxCodeTaken(f"Tax code {new_tax_code} is already registered", field="body.tax_code")
    if "commune_code" in changes:
        commune = await admin_units_service.resolve_commune(
            session, changes.pop("commune_code"), clock.today(), field="body.commune_code"
        )
        # Moving changes which officers are responsible: only staff of the destination may do it.
        if commune.id != entity.admin_unit_id and not policies.can_register_in(
            principal, commune.code, commune.province_code
        ):
            raise Forbidden("Only officers of the destination unit (or an admin) may move an entity there.")
        entity.admin_unit_id, entity.commune_code, entity.province_code = (
            commune.id, commune.code, commune.province_code,
        )  # fmt: skip
    for field, value in changes.items():
        if value is None and field in ("entity_type", "legal_name", "tax_code", "representative_name"):
            continue  # required columns: null means "leave as is"
        setattr(entity, field, value if field != "certifications" or value is not None else [])
    if changes.get("legal_name"):
        entity.name_folded = fold(changes["legal_name"])
    return await EntityRepository(session).save(entity)


async def list_entities(
    session: AsyncSession,
    *,
    principal: Principal,
    limit: int,
    cursor: str | None,
    entity_type: str | None = None,
    commune_code: str | None = None,
    province_code: str | None = None,
    q: str | None = None,
) -> KeysetPage[Entity]:
    """A page of the entities the caller may see."""
    require_authenticated(principal)
    where = EntityFilter(entity_type, commune_code, province_code, fold(q) if q else None)
    return await EntityRepository(session).list(
        policies.visibility(principal), where, limit=limit, after=decode_cursor(cursor, str, uuid.UUID)
    )
