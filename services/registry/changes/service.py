"""Change-request rules: producers ask, officers of the record's unit approve or reject.

A certified product's identity (name, English name, product set, classification, GTIN) and an
entity's legal name and tax code are what a certificate and the public record stand on, so a producer
cannot change them in place (``NeedsApproval``); it asks here. An approval applies the change through
the owning package's service as the approving officer, so its rules and its history apply.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import policies
from services.registry.changes.errors import ChangeRequestDecided, ChangeRequestNotFound
from services.registry.changes.models import ChangeRequest
from services.registry.changes.repository import ChangeRequestRepository
from services.registry.changes.schemas import EntityIdentityChange, ProductIdentityChange
from services.registry.entities import service as entity_service
from services.registry.entities.schemas import EntityUpdate
from services.registry.products import service as product_service
from services.registry.products.schemas import ProductUpdate
from shared import clock
from shared.pagination import KeysetPage, decode_cursor
from shared.security.dependencies import Forbidden, require_authenticated
from shared.security.principal import Principal
from shared.security.scopes import Place


def place_of(request: ChangeRequest) -> Place:
    """Where a request belongs: the record's entity and unit when it was asked."""
    return Place(request.entity_id, request.commune_code, request.province_code)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


async def _file(
    session: AsyncSession, principal: Principal, resource: str, record: Any, place: Place, changes: dict[str, Any],
    reason: str | None,
) -> ChangeRequest:  # fmt: skip
    if not policies.can_edit(principal, place):
        raise Forbidden(f"You may read this {resource} but not ask to change it.")
    request = ChangeRequest(
        resource=resource,
        resource_id=record.id,
        entity_id=place.entity_id,
        commune_code=place.commune_code,
        province_code=place.province_code,
        changes={field: _plain(value) for field, value in changes.items()},
        previous={field: _plain(getattr(record, field)) for field in changes},
        reason=reason,
        status="pending",
        requested_by=principal.sub,
        requested_role=principal.role.value,
    )
    return await ChangeRequestRepository(session).add(request)


async def request_product_change(
    session: AsyncSession, *, principal: Principal, product_id: uuid.UUID, data: ProductIdentityChange
) -> ChangeRequest:
    """Ask to change a product's identity fields."""
    product = await product_service.get_product(session, principal=principal, product_id=product_id)
    changes = data.model_dump(exclude_unset=True, exclude={"reason"})
    return await _file(
        session, principal, "product", product, product_service.place_of(product), changes, data.reason
    )


async def request_entity_change(
    session: AsyncSession, *, principal: Principal, entity_id: uuid.UUID, data: EntityIdentityChange
) -> ChangeRequest:
    """Ask to change an entity's legal name or tax code."""
    entity = await entity_service.get_entity(session, principal=principal, entity_id=entity_id)
    changes = data.model_dump(exclude_unset=True, exclude={"reason"})
    return await _file(
        session, principal, "entity", entity, entity_service.place_of(entity), changes, data.reason
    )


async def get_request(
    session: AsyncSession, *, principal: Principal, request_id: uuid.UUID, for_update: bool = False
) -> ChangeRequest:
    """A request the caller may see; otherwise ChangeRequestNotFound."""
    require_authenticated(principal)
    repository = ChangeRequestRepository(session)
    request = await (repository.get_for_update(request_id) if for_update else repository.get(request_id))
    if request is None or not policies.can_read(principal, place_of(request)):
        raise ChangeRequestNotFound(f"No change request {request_id}")
    return request


async def list_requests(
    session: AsyncSession,
    *,
    principal: Principal,
    status: str | None,
    resource_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
) -> KeysetPage[ChangeRequest]:
    """A page of the requests the caller may see, newest first."""
    require_authenticated(principal)
    return await ChangeRequestRepository(session).list(
        policies.visibility(principal),
        status=status,
        resource_id=resource_id,
        limit=limit,
        after=decode_cursor(cursor, datetime, uuid.UUID),
    )


async def _decidable(session: AsyncSession, principal: Principal, request_id: uuid.UUID) -> ChangeRequest:
    request = await get_request(session, principal=principal, request_id=request_id, for_update=True)
    if not policies.can_review(principal, place_of(request)):
        raise Forbidden("Only officers of the record's commune or province decide change requests.")
    if request.status != "pending":
        raise ChangeRequestDecided(
            f"Change request {request.id} is already {request.status}", current_state=request.status
        )
    return request


def _decided(request: ChangeRequest, principal: Principal, status: str, reason: str | None) -> None:
    request.status = status
    request.decided_by = principal.sub
    request.decision_reason = reason
    request.decided_at = clock.now()


async def approve(session: AsyncSession, *, principal: Principal, request_id: uuid.UUID) -> ChangeRequest:
    """Apply the requested change as the approving officer (the owning service's rules decide)."""
    request = await _decidable(session, principal, request_id)
    if request.resource == "product":
        await product_service.update_product(
            session,
            principal=principal,
            product_id=request.resource_id,
            data=ProductUpdate.model_validate(request.changes),
        )
    else:
        await entity_service.update_entity(
            session,
            principal=principal,
            entity_id=request.resource_id,
            data=EntityUpdate.model_validate(request.changes),
        )
    _decided(request, principal, "approved", None)
    return await ChangeRequestRepository(session).save(request)


async def reject(
    session: AsyncSession, *, principal: Principal, request_id: uuid.UUID, reason: str
) -> ChangeRequest:
    """Turn a request down with the reason; nothing changes on the record."""
    request = await _decidable(session, principal, request_id)
    _decided(request, principal, "rejected", reason)
    return await ChangeRequestRepository(session).save(request)
