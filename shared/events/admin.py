"""Administrators' view of a service's outbox: deliveries (dead letters first of all) and their replay."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import SessionDep
from shared.events.repository import DeliveryRepository, DeliveryRow
from shared.events.tables import OutboxTables
from shared.pagination import KeysetPage, decode_cursor, next_page
from shared.schemas import Page, page_of, problems
from shared.security.dependencies import Forbidden, PrincipalDep, require_authenticated
from shared.security.principal import Principal, Role

DeliveryStatus = Literal["pending", "delivered", "dead"]


def can_administer_events(principal: Principal) -> bool:
    """Only administrators see and replay another party's deliveries (fails closed for every other role)."""
    return principal.role is Role.admin


class DeliveryRead(BaseModel):
    """One delivery of one event to one destination."""

    model_config = ConfigDict(from_attributes=True)

    event_id: uuid.UUID
    destination: str
    type: str
    subject: str
    occurred_at: datetime
    status: DeliveryStatus
    attempts: int
    last_status: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None


class ReplayRequest(BaseModel):
    """Which dead letters to put back in line: one event's, one destination's, or (both empty) all."""

    model_config = ConfigDict(extra="forbid")

    event_id: uuid.UUID | None = None
    destination: str | None = None


class ReplayAnswer(BaseModel):
    """How many dead deliveries were put back in line."""

    replayed: int


async def list_deliveries(
    session: AsyncSession, tables: OutboxTables, *, status: str | None, destination_prefix: str | None,
    subject: str | None = None, limit: int, cursor: str | None,
) -> KeysetPage[DeliveryRow]:  # fmt: skip
    """A page of deliveries, newest first."""
    after = decode_cursor(cursor, int, str)
    rows = await DeliveryRepository(session, tables).list(
        destination_prefix=destination_prefix, status=status, subject=subject,
        after=(after[0], after[1]) if after else None, limit=limit + 1,
    )  # fmt: skip
    return next_page(rows, limit, key=lambda row: (row.seq, row.destination))


async def replay_dead_letters(
    session: AsyncSession,
    tables: OutboxTables,
    channel: str,
    *,
    event_id: uuid.UUID | None,
    destination: str | None,
) -> int:
    """Put dead deliveries back in line and wake the relays at commit; how many."""
    repository = DeliveryRepository(session, tables)
    replayed = await repository.replay_dead(event_id=event_id, destination=destination)
    if replayed:
        await repository.notify(channel)
    return replayed


def outbox_admin_router(service: str, tables: Callable[[], OutboxTables], channel: str) -> APIRouter:
    """``/v1/outbox/<service>/deliveries``: administrators list deliveries and replay dead letters."""
    router = APIRouter(prefix=f"/v1/outbox/{service}", tags=["outbox"])

    def _admin(principal: Principal) -> None:
        require_authenticated(principal)
        if not can_administer_events(principal):
            raise Forbidden("Only administrators read and replay event deliveries.")

    @router.get(
        "/deliveries", response_model=Page[DeliveryRead], responses=problems(401, 403),
        name=f"outbox_{service}_deliveries",
    )  # fmt: skip
    async def list_outbox_deliveries(
        session: SessionDep,
        principal: PrincipalDep,
        status: DeliveryStatus | None = None,
        destination: Annotated[
            str | None, Query(max_length=120, description="Destinations starting with")
        ] = None,
        subject: Annotated[str | None, Query(max_length=240, examples=["product/<id>"])] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Page[DeliveryRead]:
        """Deliveries of this service's events, newest first (``status=dead``: the dead letters)."""
        _admin(principal)
        page = await list_deliveries(
            session, tables(), status=status, destination_prefix=destination, subject=subject, limit=limit,
            cursor=cursor,
        )  # fmt: skip
        return page_of(DeliveryRead, page)

    @router.post(
        "/deliveries/replay", response_model=ReplayAnswer, responses=problems(401, 403),
        name=f"outbox_{service}_replay",
    )  # fmt: skip
    async def replay_outbox_dead_letters(
        body: ReplayRequest, session: SessionDep, principal: PrincipalDep
    ) -> ReplayAnswer:
        """Deliver dead letters again (all, one event's or one destination's), from the first attempt."""
        _admin(principal)
        replayed = await replay_dead_letters(
            session, tables(), channel, event_id=body.event_id, destination=body.destination
        )
        return ReplayAnswer(replayed=replayed)

    return router
