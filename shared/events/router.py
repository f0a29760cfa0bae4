"""``POST /internal/events``: where the relays of other services deliver (never routed by the gateway)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel

from shared.db import SessionDep
from shared.events.envelope import MalformedEnvelope, parse_envelope
from shared.events.errors import EnvelopeMalformed, SignatureInvalid
from shared.events.inbox import Consumed, Inbox
from shared.events.signing import SIGNATURE_HEADER, verified_source
from shared.schemas import problems


class EventAccepted(BaseModel):
    """The answer to a delivery: which event, and what came of it."""

    id: str
    outcome: Consumed


def events_router(
    *,
    inbox: Callable[[Request], Inbox],
    secrets: Callable[[Request], Mapping[str, Iterable[str]]],
    window_s: int = 300,
) -> APIRouter:
    """The router of ``/internal/events`` for a service's inbox and the secrets it accepts."""
    router = APIRouter(prefix="/internal", tags=["internal"], include_in_schema=False)

    @router.post("/events", response_model=EventAccepted, responses=problems(400, 401))
    async def receive_event(
        request: Request,
        session: SessionDep,
        signature: str | None = Header(default=None, alias=SIGNATURE_HEADER),
        idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
    ) -> EventAccepted:
        """Apply a signed event once; a redelivery answers the same and changes nothing."""
        body = await request.body()
        # The signature is checked before the body is even parsed: an unsigned caller learns nothing.
        source = verified_source(signature, body, secrets(request), window_s=window_s)
        if source is None:
            raise SignatureInvalid(
                f"{SIGNATURE_HEADER} is missing, wrong, or outside the {window_s} s window"
            )
        try:
            envelope = parse_envelope(body)
        except MalformedEnvelope as exc:
            raise EnvelopeMalformed(str(exc), errors=exc.errors) from exc
        # A secret speaks for one source, and a source only for its own event types.
        if envelope.source != source or envelope.type.split(".", 1)[0] != source:
            raise SignatureInvalid(
                f"The delivery is signed as {source}, not as the event's source {envelope.source}"
            )
        if idempotency_key is not None and idempotency_key != str(envelope.id):
            raise EnvelopeMalformed(
                "Idempotency-Key differs from the event's id",
                errors=[{"field": "header.Idempotency-Key", "message": "must be the event's id"}],
            )
        outcome = await inbox(request).consume(session, envelope)
        return EventAccepted(id=str(envelope.id), outcome=outcome)

    return router
