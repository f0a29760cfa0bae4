"""Entity rules: who registers them, unique tax codes, the commune they belong to; their export.

``save_entities`` is the one place entities are registered (and, for an import, changed by tax code):
the API registers a batch of one through it, an import its rows a batch at a time, so both apply the
same rules and both write through ``EntityRepository``.
"""

from __future__ import annotations

import typing
import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import policies
from services.registry.admin_units import service as admin_units_service
from services.registry.admin_units.errors import InvalidCommune
from services.registry.admin_units.repository import CommuneRef
from services.registry.batch import Batch, Outcome
from services.registry.catalogue_feed import service as catalogue_feed
from services.registry.changes.errors import NeedsApproval
from services.registry.entities import events
from services.registry.entities.errors import EntityNotFound, TaxCodeTaken
from services.registry.entities.models import Entity
from services.registry.entities.repository import EntityFilter, EntityRepository
from services.registry.entities.schemas import EntityCreate, EntityUpdate
from services.registry.files import exports
from services.registry.files.columns import ENTITIES as ENTITY_FILE
from services.registry.files.columns import FileFormat
from shared import clock
from shared.db import Database
from shared.errors import ProblemError
from shared.pagination import KeysetPage, decode_cursor
from shared.security.dependencies import Forbidden, require_authenticated
from shared.security.principal import Principal, Role
from shared.security.scopes import Place, Visibility
from shared.text import fold

# The stored columns a commune decides, and those an entity's registration fields decide.
PLACE_COLUMNS = ("admin_unit_id", "commune_code", "province_code")
FIELDS = tuple(name for name in EntityCreate.model_fields if name not in ("tax_code", "commune_code"))
# What the products service needs of an entity that owns products.
OWNER_COLUMNS = ("id", "tax_code", "commune_code", "province_code")


def place_of(entity: Any) -> Place:
    """Where an entity (a model or a row with id, commune and province) belongs, for the access rules."""
    return Place(entity.id, entity.commune_code, entity.province_code)


def _tax_code_taken(tax_code: str) -> TaxCodeTaken:
    return TaxCodeTaken(f"Tax code {tax_code} is already registered", field="body.tax_code")


def _moves(current: Any, commune_code: str) -> bool:
    """Whether ``commune_code`` places an entity somewhere new (a code it already has changes nothing).

    An entity keeps the commune it was registered in after a reform, even if its code now names
    another unit; only a move needs a commune valid today.
    """
    return current is None or current.commune_code != commune_code


def _place(
    principal: Principal,
    current: Any,
    commune_code: str,
    communes: Mapping[str, CommuneRef | InvalidCommune],
) -> dict[str, Any] | ProblemError:
    """The place columns of an entity registered in (or moved to) ``commune_code``, or the problem.

    A new or moved entity needs a commune valid today, and only staff of that unit may put it there.
    """
    if not _moves(current, commune_code):
        return {column: getattr(current, column) for column in PLACE_COLUMNS}
    commune = communes[commune_code]
    if isinstance(commune, InvalidCommune):
        return commune
    if (current is None or commune.id != current.admin_unit_id) and not policies.can_register_in(
        principal, commune.code, commune.province_code
    ):
        return Forbidden(
            "Only officers of the commune or its province (or an admin) register or move entities there.",
            field="body.commune_code",
        )
    return {"admin_unit_id": commune.id, "commune_code": commune.code, "province_code": commune.province_code}


def _check(
    principal: Principal,
    data: EntityCreate,
    current: Any,
    communes: Mapping[str, CommuneRef | InvalidCommune],
    fields: Sequence[str],
    update: bool,
) -> tuple[Outcome, dict[str, Any] | None]:
    """One registration under the rules: its outcome and the columns to write (None: nothing to write)."""
    if current is not None and update and not policies.can_edit(principal, place_of(current)):
        # Updating by tax code reaches only entities the caller may edit; to anyone else the code is taken.
        return Outcome(_tax_code_taken(data.tax_code)), None
    place = _place(principal, current if update else None, data.commune_code, communes)
    if isinstance(place, ProblemError):
        return Outcome(place), None
    if current is not None and not update:
        return Outcome(_tax_code_taken(data.tax_code)), None
    values = {**{name: getattr(data, name) for name in fields}, **place, "name_folded": fold(data.legal_name)}
    where = place["commune_code"]
    if current is None:
        entity_id = uuid.uuid4()
        values |= {"id": entity_id, "tax_code": data.tax_code}
        return Outcome(record_id=entity_id, action="created", commune_code=where), values
    if all(getattr(current, name) == value for name, value in values.items()):
        return Outcome(record_id=current.id, action="unchanged", commune_code=where), None
    return Outcome(record_id=current.id, action="updated", commune_code=where), {"id": current.id, **values}


async def save_entities(
    session: AsyncSession,
    *,
    principal: Principal,
    rows: Sequence[EntityCreate],
    columns: Collection[str] | None = None,
    update: bool = False,
    dry_run: bool = False,
    today: date | None = None,
) -> Batch:
    """Register entities under the API's rules; with ``update``, change those whose tax code is registered.

    ``columns`` are the fields the caller gives (all by default): an update changes only those. One
    query per lookup for the whole batch; written (unless ``dry_run``) only when every row passes.
    A tax code may appear once in a batch.
    """
    require_authenticated(principal)
    fields = [name for name in FIELDS if columns is None or name in columns]
    repository = EntityRepository(session)
    stored = await repository.rows_by_tax_code(
        {data.tax_code for data in rows}, ["id", *fields, *PLACE_COLUMNS, "name_folded", "updated_at"]
    )
    communes = await admin_units_service.resolve_communes(
        session,
        {
            data.commune_code
            for data in rows
            if not update or _moves(stored.get(data.tax_code), data.commune_code)
        },
        today or clock.today(),
    )
    checked = [_check(principal, data, stored.get(data.tax_code), communes, fields, update) for data in rows]
    batch = Batch([outcome for outcome, _ in checked])
    if batch.refused or dry_run:
        return batch
    writes = [(outcome, values) for outcome, values in checked if values is not None]
    updates = [values for outcome, values in writes if outcome.action == "updated"]
    seen = {row.id: row.updated_at for row in stored.values()}
    if batch.refuse_changed(
        await repository.changed_since({values["id"]: seen[values["id"]] for values in updates})
    ):
        return batch
    await repository.insert_rows([values for outcome, values in writes if outcome.action == "created"])
    await repository.update_rows(updates, [name for name in updates[0] if name != "id"] if updates else [])
    await events.emit_updated(session, [values["id"] for _, values in writes])
    await catalogue_feed.publish_entity_changes(session, entity_ids=[values["id"] for values in updates])
    batch.written = True
    return batch


async def register_entity(session: AsyncSession, *, principal: Principal, data: EntityCreate) -> Entity:
    """Register an entity in a commune valid today; only staff of that unit may."""
    try:
        async with session.begin_nested():
            batch = await save_entities(session, principal=principal, rows=[data])
            batch.raise_first()
    except IntegrityError as exc:  # a concurrent registration won the race for the tax code
        raise _tax_code_taken(data.tax_code) from exc
    # Written just now, in this transaction.
    return typing.cast(Entity, await EntityRepository(session).get(batch.outcomes[0].record_id))


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
        raise _tax_code_taken(new_tax_code)
    if "commune_code" in changes:
        code = changes.pop("commune_code")
        wanted = {code} if _moves(entity, code) else set()
        communes = await admin_units_service.resolve_communes(session, wanted, clock.today())
        place = _place(principal, entity, code, communes)
        if isinstance(place, ProblemError):
            raise place
        changes |= place
    before = {field: getattr(entity, field) for field in changes}
    for field, value in changes.items():
        if value is None and field in ("entity_type", "legal_name", "tax_code", "representative_name"):
            continue  # required columns: null means "leave as is"
        setattr(entity, field, value if field != "certifications" or value is not None else [])
    if changes.get("legal_name"):
        entity.name_folded = fold(changes["legal_name"])
    saved = await EntityRepository(session).save(entity)
    if any(getattr(entity, field) != value for field, value in before.items()):
        await events.emit_updated(session, [entity.id])
    await catalogue_feed.publish_entity_changes(session, entity_ids=[saved.id])
    return saved


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


async def owners(
    session: AsyncSession, *, ids: Collection[uuid.UUID] = (), tax_codes: Collection[str] = ()
) -> tuple[dict[uuid.UUID, Any], dict[str, Any]]:
    """The entities named by id or by tax code, as rows with id, tax code, commune and province.

    Who may use them is the caller's rule (``place_of`` gives their place); one query per kind of key.
    """
    repository = EntityRepository(session)
    return (
        await repository.rows_by_id(ids, OWNER_COLUMNS),
        await repository.rows_by_tax_code(tax_codes, OWNER_COLUMNS),
    )


# Export


async def export(
    session: AsyncSession, *, database: Database, principal: Principal, file_format: FileFormat
) -> exports.Exported:
    """The entities the caller may see, as a file that imports back unchanged (staff only)."""
    return await exports.export(
        ENTITY_FILE,
        _export_rows,
        session=session,
        database=database,
        principal=principal,
        file_format=file_format,
    )


def _export_rows(session: AsyncSession, visible: Visibility) -> exports.Batches:
    return EntityRepository(session).stream(visible, ENTITY_FILE.columns, exports.EXPORT_BATCH_ROWS)


# Snapshots resent on request (a subscriber that starts with an empty copy)

RESEND_PAGE = 1_000


async def resend_snapshots(session: AsyncSession, *, destination: str) -> int:
    """Send ``destination`` a ``registry.entity.updated`` of every entity as it now stands; how many."""
    repository = EntityRepository(session)
    sent, after = 0, None
    while ids := await repository.ids_locked_after(after, RESEND_PAGE):
        await events.emit_updated(session, ids, destination=destination)
        sent, after = sent + len(ids), ids[-1]
    return sent
