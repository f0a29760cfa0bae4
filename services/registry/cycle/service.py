"""The OCOP cycle's reviews: ideas and business plans go draft → submitted → approved | returned.

Producers (and staff of their unit) write and submit; officers of the unit approve or return.
Approving an idea moves its product to "business_plan", approving the plan moves it to
"implementing" (OCOP-DOMAIN.md §5). Every step is written to the product's change history.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, TypeVar, cast

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import policies
from services.registry.cycle.errors import (
    BusinessPlanExists,
    BusinessPlanNotFound,
    IdeaNotApproved,
    IdeaNotFound,
    IllegalTransition,
    NotEditable,
)  # fmt: skip
from services.registry.cycle.models import BusinessPlan, IdeaRegistration
from services.registry.cycle.repository import BusinessPlanRepository, IdeaRepository
from services.registry.cycle.schemas import (
    BusinessPlanCreate,
    BusinessPlanUpdate,
    IdeaCreate,
    IdeaUpdate,
)  # fmt: skip
from services.registry.products import service as product_service
from services.registry.products.errors import ProductNameTaken
from services.registry.products.schemas import ProductCreate
from shared import clock
from shared.errors import NotFound
from shared.pagination import KeysetPage, decode_cursor
from shared.security.dependencies import Forbidden, require_authenticated
from shared.security.principal import Principal
from shared.security.scopes import Place

Record = TypeVar("Record", IdeaRegistration, BusinessPlan)
Kind = Literal["idea", "business_plan"]

# Targets each review state may move to; "approved" is final (a returned review is revised and resubmitted).
REVIEW_TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"submitted"}),
    "submitted": frozenset({"approved", "returned"}),
    "returned": frozenset({"submitted"}),
    "approved": frozenset(),
}
EDITABLE_STATES = ("draft", "returned")
# The product state an approval moves the product out of, and into.
PRODUCT_MOVES: dict[Kind, tuple[str, str]] = {
    "idea": ("idea", "business_plan"),
    "business_plan": ("business_plan", "implementing"),
}
REPOSITORIES: dict[Kind, type[IdeaRepository] | type[BusinessPlanRepository]] = {
    "idea": IdeaRepository, "business_plan": BusinessPlanRepository,
}  # fmt: skip
NOT_FOUND: dict[Kind, type[NotFound]] = {"idea": IdeaNotFound, "business_plan": BusinessPlanNotFound}
LABELS: dict[Kind, str] = {"idea": "idea", "business_plan": "business plan"}


def place_of(record: IdeaRegistration | BusinessPlan) -> Place:
    """Where an idea or plan belongs, for the access rules."""
    return Place(record.entity_id, record.commune_code, record.province_code)


def _kind(record: IdeaRegistration | BusinessPlan) -> Kind:
    return "idea" if isinstance(record, IdeaRegistration) else "business_plan"


async def _visible(
    session: AsyncSession,
    principal: Principal,
    model: type[Record],
    record_id: uuid.UUID,
    *,
    for_update: bool = False,
    field: str | None = None,
) -> Record:
    """The record if the caller may see it; otherwise a 404 that does not hint at its existence."""
    require_authenticated(principal)
    kind: Kind = "idea" if model is IdeaRegistration else "business_plan"
    repository = REPOSITORIES[kind](session)
    found = await (repository.get_for_update(record_id) if for_update else repository.get(record_id))
    record = cast(Record | None, found)
    if record is None or not policies.can_read(principal, place_of(record)):
        extensions: dict[str, Any] = {"field": field} if field else {}
        raise NOT_FOUND[kind](f"No {LABELS[kind]} {record_id}", **extensions)
    return record


async def _record_change(
    session: AsyncSession,
    principal: Principal,
    record: IdeaRegistration | BusinessPlan,
    action: str,
    changes: dict[str, Any],
) -> None:
    kind = _kind(record)
    await product_service.record_change(
        session, product_id=record.product_id, actor=principal, action=f"{kind}_{action}",
        changes={f"{kind}_id": str(record.id), **changes},
    )  # fmt: skip


def _ensure_transition(record: IdeaRegistration | BusinessPlan, target: str) -> None:
    allowed = REVIEW_TRANSITIONS[record.status]
    if target not in allowed:
        raise IllegalTransition(
            f"A {LABELS[_kind(record)]} in state {record.status!r} cannot become {target!r}",
            current_state=record.status,
            allowed=sorted(allowed),
        )


async def _submit(session: AsyncSession, principal: Principal, record: Record) -> Record:
    if not policies.can_edit(principal, place_of(record)):
        raise Forbidden(f"You may read this {LABELS[_kind(record)]} but not submit it.")
    _ensure_transition(record, "submitted")
    old = record.status
    record.status = "submitted"
    record.submitted_at = clock.now()
    # A resubmission is undecided again; the earlier decision stays in the product's history.
    record.decided_at = record.decided_by = record.return_reason = None
    await _record_change(session, principal, record, "submitted", {"status": [old, "submitted"]})
    return cast(Record, await REPOSITORIES[_kind(record)](session).save(record))  # type: ignore[arg-type]


async def _decide(
    session: AsyncSession, principal: Principal, record: Record, target: str, reason: str | None = None
) -> Record:
    kind = _kind(record)
    if not policies.can_review(principal, place_of(record)):
        raise Forbidden(f"Only officers of the {LABELS[kind]}'s commune or province may review it.")
    _ensure_transition(record, target)
    old = record.status
    record.status = target
    record.decided_at = clock.now()
    record.decided_by = principal.sub
    record.return_reason = reason
    changes: dict[str, Any] = {"status": [old, target]}
    if reason is not None:
        changes["reason"] = reason
    await _record_change(session, principal, record, target, changes)
    if target == "approved":
        await _move_product(session, principal, record)
    return cast(Record, await REPOSITORIES[_kind(record)](session).save(record))  # type: ignore[arg-type]


async def _move_product(
    session: AsyncSession, principal: Principal, record: IdeaRegistration | BusinessPlan
) -> None:
    """Advance the product past the approved step (locked after the review row: one lock order)."""
    kind = _kind(record)
    source, target = PRODUCT_MOVES[kind]
    # The cycle never moves a product back to "idea" or "business_plan", so any other state means an
    # officer already advanced it through /v1/products/{id}/status; the approval stands without a move.
    await product_service.advance_if_in(
        session, product_id=record.product_id, source=source, target=target, actor=principal,
        note=f"{LABELS[kind]} {record.id} approved",
    )  # fmt: skip


def _apply_changes(record: IdeaRegistration | BusinessPlan, changes: dict[str, Any]) -> dict[str, Any]:
    diff: dict[str, Any] = {}
    for field, value in changes.items():
        old = getattr(record, field)
        if old != value:
            diff[field] = [old, value]
            setattr(record, field, value)
    return diff


async def _update(
    session: AsyncSession, principal: Principal, record: Record, changes: dict[str, Any]
) -> Record:
    if not policies.can_edit(principal, place_of(record)):
        raise Forbidden(f"You may read this {LABELS[_kind(record)]} but not change it.")
    if record.status not in EDITABLE_STATES:
        raise NotEditable(
            f"A {LABELS[_kind(record)]} in state {record.status!r} cannot be changed",
            current_state=record.status,
            editable_states=list(EDITABLE_STATES),
        )
    diff = _apply_changes(record, changes)
    if diff:
        await _record_change(session, principal, record, "updated", diff)
    return cast(Record, await REPOSITORIES[_kind(record)](session).save(record))  # type: ignore[arg-type]


async def _list(
    session: AsyncSession,
    principal: Principal,
    kind: Kind,
    *,
    limit: int,
    cursor: str | None,
    filters: dict[str, Any],
) -> KeysetPage[Any]:
    require_authenticated(principal)
    return await REPOSITORIES[kind](session).list(
        policies.visibility(principal),
        limit=limit,
        after=decode_cursor(cursor, datetime, uuid.UUID),
        filters=filters,
    )


async def create_idea(session: AsyncSession, *, principal: Principal, data: IdeaCreate) -> IdeaRegistration:
    """Register a product idea: the product (state "idea") and its idea registration as a draft."""
    product_fields: dict[str, Any] = {
        "entity_id": data.entity_id, "name": data.product_name, "product_set": data.product_set,
        "description": data.description,
    }  # fmt: skip
    if data.classification is not None:
        product_fields["classification"] = data.classification
    try:
        product, _ = await product_service.register_product(
            session, principal=principal, data=ProductCreate(**product_fields, status="idea")
        )
    except ProductNameTaken as exc:
        raise ProductNameTaken(exc.detail, field="body.product_name") from exc
    idea = IdeaRegistration(
        entity_id=product.entity_id,
        product_id=product.id,
        title=data.title or data.product_name,
        description=data.description,
        raw_materials=data.raw_materials,
        commune_code=product.commune_code,
        province_code=product.province_code,
        status="draft",
    )
    idea = await IdeaRepository(session).add(idea)
    await _record_change(session, principal, idea, "created", {"status": [None, "draft"]})
    return idea


async def get_idea(session: AsyncSession, *, principal: Principal, idea_id: uuid.UUID) -> IdeaRegistration:
    """The idea, if the caller may see it; otherwise IdeaNotFound."""
    return await _visible(session, principal, IdeaRegistration, idea_id)


async def list_ideas(
    session: AsyncSession, *, principal: Principal, limit: int, cursor: str | None, filters: dict[str, Any]
) -> KeysetPage[IdeaRegistration]:
    """A page of the ideas the caller may see, newest first."""
    return await _list(session, principal, "idea", limit=limit, cursor=cursor, filters=filters)


async def update_idea(
    session: AsyncSession, *, principal: Principal, idea_id: uuid.UUID, data: IdeaUpdate
) -> IdeaRegistration:
    """Revise a draft or returned idea."""
    idea = await _visible(session, principal, IdeaRegistration, idea_id, for_update=True)
    return await _update(session, principal, idea, data.model_dump(exclude_unset=True, exclude_none=True))


async def submit_idea(session: AsyncSession, *, principal: Principal, idea_id: uuid.UUID) -> IdeaRegistration:
    """Hand a draft or returned idea in for review."""
    idea = await _visible(session, principal, IdeaRegistration, idea_id, for_update=True)
    return await _submit(session, principal, idea)


async def approve_idea(
    session: AsyncSession, *, principal: Principal, idea_id: uuid.UUID
) -> IdeaRegistration:
    """Approve a submitted idea; its product moves on to the business-plan step."""
    idea = await _visible(session, principal, IdeaRegistration, idea_id, for_update=True)
    return await _decide(session, principal, idea, "approved")


async def return_idea(
    session: AsyncSession, *, principal: Principal, idea_id: uuid.UUID, reason: str
) -> IdeaRegistration:
    """Send a submitted idea back to its producer with the reason."""
    idea = await _visible(session, principal, IdeaRegistration, idea_id, for_update=True)
    return await _decide(session, principal, idea, "returned", reason)


async def create_plan(
    session: AsyncSession, *, principal: Principal, data: BusinessPlanCreate
) -> BusinessPlan:
    """Write the business plan of an approved idea (one per idea) as a draft."""
    # Locking the idea serialises concurrent plan creation for it; the unique idea_id backs this up.
    idea = await _visible(
        session, principal, IdeaRegistration, data.idea_id, for_update=True, field="body.idea_id"
    )
    if not policies.can_edit(principal, place_of(idea)):
        raise Forbidden("You may read this idea but not write its business plan.")
    if idea.status != "approved":
        raise IdeaNotApproved(
            f"Idea {idea.id} is {idea.status!r}; a business plan needs an approved idea",
            current_state=idea.status,
        )
    repository = BusinessPlanRepository(session)
    existing = await repository.plan_of_idea(idea.id)
    if existing is not None:
        raise BusinessPlanExists(f"Idea {idea.id} already has business plan {existing.id}",
                                 business_plan_id=str(existing.id))  # fmt: skip
    plan = BusinessPlan(
        idea_id=idea.id,
        entity_id=idea.entity_id,
        product_id=idea.product_id,
        summary=data.summary,
        market=data.market,
        budget_vnd=data.budget_vnd,
        commune_code=idea.commune_code,
        province_code=idea.province_code,
        status="draft",
    )
    try:
        async with session.begin_nested():
            plan = await repository.add(plan)
    except IntegrityError as exc:  # cannot race past the idea lock, but the constraint is the last word
        raise BusinessPlanExists(f"Idea {idea.id} already has a business plan") from exc
    await _record_change(session, principal, plan, "created", {"status": [None, "draft"]})
    return plan


async def get_plan(session: AsyncSession, *, principal: Principal, plan_id: uuid.UUID) -> BusinessPlan:
    """The business plan, if the caller may see it; otherwise BusinessPlanNotFound."""
    return await _visible(session, principal, BusinessPlan, plan_id)


async def list_plans(
    session: AsyncSession, *, principal: Principal, limit: int, cursor: str | None, filters: dict[str, Any]
) -> KeysetPage[BusinessPlan]:
    """A page of the business plans the caller may see, newest first."""
    return await _list(session, principal, "business_plan", limit=limit, cursor=cursor, filters=filters)


async def update_plan(
    session: AsyncSession, *, principal: Principal, plan_id: uuid.UUID, data: BusinessPlanUpdate
) -> BusinessPlan:
    """Revise a draft or returned business plan."""
    plan = await _visible(session, principal, BusinessPlan, plan_id, for_update=True)
    return await _update(session, principal, plan, data.model_dump(exclude_unset=True, exclude_none=True))


async def submit_plan(session: AsyncSession, *, principal: Principal, plan_id: uuid.UUID) -> BusinessPlan:
    """Hand a draft or returned business plan in for review."""
    plan = await _visible(session, principal, BusinessPlan, plan_id, for_update=True)
    return await _submit(session, principal, plan)


async def approve_plan(session: AsyncSession, *, principal: Principal, plan_id: uuid.UUID) -> BusinessPlan:
    """Approve a submitted business plan; its product moves on to implementation."""
    plan = await _visible(session, principal, BusinessPlan, plan_id, for_update=True)
    return await _decide(session, principal, plan, "approved")


async def return_plan(
    session: AsyncSession, *, principal: Principal, plan_id: uuid.UUID, reason: str
) -> BusinessPlan:
    """Send a submitted business plan back to its producer with the reason."""
    plan = await _visible(session, principal, BusinessPlan, plan_id, for_update=True)
    return await _decide(session, principal, plan, "returned", reason)
