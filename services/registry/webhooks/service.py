"""Webhook rules: who subscribes, which URLs are allowed, the secret shown once, the delivery log, the relay's view."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import policies
from services.registry.config import RegistrySettings
from services.registry.webhooks import repository as routes_repository
from services.registry.webhooks.errors import WebhookNotFound
from services.registry.webhooks.models import WebhookSubscription
from services.registry.webhooks.repository import WebhookRepository, destination_name
from services.registry.webhooks.schemas import WebhookCreate
from services.registry.webhooks.sealing import SecretBox, new_secret
from services.registry.webhooks.targets import (
    TargetPolicy,
    TargetRefused,
    delivery_refusal,
    parse_target,
    public_address,
)  # fmt: skip
from shared import clock
from shared.errors import InvalidField
from shared.events.relay import Destination
from shared.events.repository import DeliveryRow
from shared.pagination import KeysetPage, decode_cursor, next_page
from shared.security.dependencies import Forbidden, require_authenticated
from shared.security.principal import Principal

DESTINATION_PREFIX = "webhook:"


@dataclass(frozen=True)
class WebhookConfig:
    """The deployment's webhook settings: where deliveries may go and the key secrets are sealed under."""

    policy: TargetPolicy
    box: SecretBox

    @classmethod
    def of(cls, settings: RegistrySettings) -> WebhookConfig:
        """The configuration of these settings."""
        policy = TargetPolicy.of(
            environment=settings.environment, allow_private=settings.webhook_allow_private_targets,
            allowed_ports=settings.webhook_allowed_ports,
        )  # fmt: skip
        return cls(policy, SecretBox(settings.webhook_secret_key.get_secret_value()))


def _require_subscriber(principal: Principal) -> None:
    require_authenticated(principal)
    if not policies.can_subscribe_to_webhooks(principal):
        raise Forbidden("Only partners (with their partner id in the token) and administrators use webhooks.")


def _checked_url(url: str, policy: TargetPolicy) -> str:
    try:
        return parse_target(url, policy).url
    except TargetRefused as exc:
        raise InvalidField("body.url", exc.reason, code="webhook_target") from exc


async def create_subscription(
    session: AsyncSession, *, principal: Principal, data: WebhookCreate, config: WebhookConfig
) -> tuple[WebhookSubscription, str]:
    """Subscribe the caller's partner (or, for an admin, the platform) to catalogue events; with its new secret."""
    _require_subscriber(principal)
    url = _checked_url(data.url, config.policy)
    subscription_id, secret = uuid.uuid4(), new_secret()
    subscription = WebhookSubscription(
        id=subscription_id, partner_id=policies.webhook_owner(principal), created_by=principal.sub, url=url,
        event_types=data.event_types, description=data.description,
        secret_sealed=config.box.seal(secret, subscription_id=subscription_id),
    )  # fmt: skip
    return await WebhookRepository(session).add(subscription), secret


async def list_subscriptions(
    session: AsyncSession, *, principal: Principal, limit: int, cursor: str | None
) -> KeysetPage[WebhookSubscription]:
    """A page of the subscriptions the caller may see: a partner's own, every one for an admin."""
    _require_subscriber(principal)
    after = decode_cursor(cursor, datetime, uuid.UUID)
    return await WebhookRepository(session).page(
        partner_id=policies.webhook_owner(principal), everyone=policies.can_manage_webhook(principal, None),
        after=(after[0], after[1]) if after else None, limit=limit,
    )  # fmt: skip


async def get_subscription(
    session: AsyncSession, *, principal: Principal, subscription_id: uuid.UUID, for_update: bool = False
) -> WebhookSubscription:
    """The subscription, if the caller may see it; another partner's is WebhookNotFound (no hint it exists)."""
    _require_subscriber(principal)
    repository = WebhookRepository(session)
    found = await (
        repository.get_for_update(subscription_id) if for_update else repository.get(subscription_id)
    )
    if found is None or not policies.can_manage_webhook(principal, found.partner_id):
        raise WebhookNotFound(f"No webhook subscription {subscription_id}")
    return found


async def delete_subscription(
    session: AsyncSession, *, principal: Principal, subscription_id: uuid.UUID
) -> None:
    """Unsubscribe: nothing more is delivered, and the deliveries not yet made are dropped with the log."""
    subscription = await get_subscription(
        session, principal=principal, subscription_id=subscription_id, for_update=True
    )
    await WebhookRepository(session).remove(subscription)


async def rotate_secret(
    session: AsyncSession, *, principal: Principal, subscription_id: uuid.UUID, config: WebhookConfig
) -> tuple[WebhookSubscription, str]:
    """A new signing secret, in use from the next delivery; the old one stops working at once."""
    subscription = await get_subscription(
        session, principal=principal, subscription_id=subscription_id, for_update=True
    )
    secret = new_secret()
    subscription.secret_sealed = config.box.seal(secret, subscription_id=subscription.id)
    subscription.secret_rotated_at = clock.now()
    return await WebhookRepository(session).save(subscription), secret


async def list_deliveries(
    session: AsyncSession, *, principal: Principal, subscription_id: uuid.UUID, status: str | None, limit: int,
    cursor: str | None,
) -> KeysetPage[DeliveryRow]:  # fmt: skip
    """A page of the subscription's deliveries, newest first: what was sent, when, and what the partner answered."""
    subscription = await get_subscription(session, principal=principal, subscription_id=subscription_id)
    after = decode_cursor(cursor, int, str)
    rows = await WebhookRepository(session).deliveries(
        subscription.id, status=status, after=(after[0], after[1]) if after else None, limit=limit + 1
    )
    return next_page(rows, limit, key=lambda row: (row.seq, row.destination))


# The relay's view (services/registry/webhooks/delivery.py wires it into the registry's Routing)


async def webhook_routes(connection: asyncpg.Connection, types: Sequence[str]) -> Mapping[str, list[str]]:
    """The subscriptions each event type goes to (one read of all subscriptions per routing pass)."""
    subscriptions = await routes_repository.routes(connection)
    return {
        event_type: [
            destination_name(subscription_id)
            for subscription_id, patterns in subscriptions
            if any(fnmatchcase(event_type, pattern) for pattern in patterns)
        ]
        for event_type in types
    }


def subscription_of(name: str) -> uuid.UUID | None:
    """The subscription id of a relay destination name (None: not a webhook's)."""
    if not name.startswith(DESTINATION_PREFIX):
        return None
    try:
        return uuid.UUID(name.removeprefix(DESTINATION_PREFIX))
    except ValueError:
        return None


async def destination(session: AsyncSession, *, name: str, config: WebhookConfig) -> Destination | None:
    """The relay's destination of ``webhook:<id>``: its URL, its secret in clear, and the SSRF check before each post."""
    subscription_id = subscription_of(name)
    if subscription_id is None:
        return None
    subscription = await WebhookRepository(session).get(subscription_id)
    if subscription is None:
        return None
    url, policy = subscription.url, config.policy

    async def refuse() -> str | None:
        return await delivery_refusal(url, policy)

    secret = config.box.open(subscription.secret_sealed, subscription_id=subscription.id)
    # The refusal above reads the URL and resolves it; the connection itself then goes only to an address
    # that passes the same check, so a host re-pointed in between (DNS rebinding) is refused too.
    allow = None if policy.allow_private else public_address
    return Destination(name, url, secret, refuse=refuse, allow_address=allow)
