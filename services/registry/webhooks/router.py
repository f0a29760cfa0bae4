"""HTTP routes of /v1/webhooks: partners' subscriptions to catalogue events and their delivery logs."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from services.registry.dependencies import IdempotencyDep
from services.registry.webhooks import service
from services.registry.webhooks.schemas import (
    DeliveryStatus,
    WebhookCreate,
    WebhookDelivery,
    WebhookRead,
    WebhookWithSecret,
)  # fmt: skip
from shared.db import SessionDep
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery
from shared.schemas import Page, page_of, problems
from shared.security.dependencies import PrincipalDep

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


def _config(request: Request) -> service.WebhookConfig:
    config: service.WebhookConfig | None = getattr(request.app.state, "webhooks", None)
    if config is None:
        config = request.app.state.webhooks = service.WebhookConfig.of(request.app.state.settings)
    return config


ConfigDep = Annotated[service.WebhookConfig, Depends(_config)]


def _with_secret(subscription: object, secret: str | None) -> WebhookWithSecret:
    return WebhookWithSecret(**WebhookRead.model_validate(subscription).model_dump(), secret=secret)


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=WebhookWithSecret, responses=problems(401, 403),
)  # fmt: skip
async def webhooks_create(
    body: WebhookCreate,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    idempotency: IdempotencyDep,
    config: ConfigDep,
) -> WebhookWithSecret | Response:
    """Subscribe to catalogue events (partners, admins); the signing secret is in this answer only."""
    if (replayed := await idempotency.replay()) is not None:
        return replayed
    subscription, secret = await service.create_subscription(
        session, principal=principal, data=body, config=config
    )
    created = _with_secret(subscription, secret)
    location = f"/v1/webhooks/{subscription.id}"
    response.headers["Location"] = location
    # A replay answers the same subscription without its secret: the secret is shown once.
    await idempotency.store(201, created.model_copy(update={"secret": None}), {"Location": location})
    return created


@router.get("", response_model=Page[WebhookRead], responses=problems(401, 403))
async def webhooks_list(
    session: SessionDep,
    principal: PrincipalDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[WebhookRead]:
    """The caller's subscriptions (a partner's own; every one for an admin), newest first."""
    page = await service.list_subscriptions(session, principal=principal, limit=limit, cursor=cursor)
    return page_of(WebhookRead, page)


@router.get("/{subscription_id}", response_model=WebhookRead, responses=problems(401, 403, 404))
async def webhooks_read(
    subscription_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> WebhookRead:
    """One subscription (without its secret)."""
    return WebhookRead.model_validate(
        await service.get_subscription(session, principal=principal, subscription_id=subscription_id)
    )


@router.delete(
    "/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
    responses=problems(401, 403, 404),
)  # fmt: skip
async def webhooks_unsubscribe(
    subscription_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Unsubscribe; deliveries not yet made are dropped."""
    await service.delete_subscription(session, principal=principal, subscription_id=subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{subscription_id}/rotate-secret", response_model=WebhookWithSecret, responses=problems(401, 403, 404)
)
async def webhooks_rotate_secret(
    subscription_id: uuid.UUID, session: SessionDep, principal: PrincipalDep, config: ConfigDep
) -> WebhookWithSecret:
    """A new signing secret, shown in this answer only; deliveries are signed with it from now on."""
    subscription, secret = await service.rotate_secret(
        session, principal=principal, subscription_id=subscription_id, config=config
    )
    return _with_secret(subscription, secret)


@router.get(
    "/{subscription_id}/deliveries", response_model=Page[WebhookDelivery], responses=problems(401, 403, 404)
)
async def webhooks_deliveries(
    subscription_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    status: DeliveryStatus | None = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[WebhookDelivery]:
    """The subscription's delivery log, newest first: each event's status, attempts and the last answer or error."""
    page = await service.list_deliveries(
        session,
        principal=principal,
        subscription_id=subscription_id,
        status=status,
        limit=limit,
        cursor=cursor,
    )
    return page_of(WebhookDelivery, page)
