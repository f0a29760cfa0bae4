"""The envelope every integration event travels in, and the rules of its fields."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

# `<service>.<entity>.<past-verb>` (STYLE-ANCHORS §11.3), e.g. `scoring.certificate.revoked`.
EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
SUBJECT_PATTERN = r"^[a-z][a-z0-9_]*/[A-Za-z0-9._:-]{1,200}$"


class Envelope(BaseModel):
    """One event: what happened (``type``), to what (``subject``, e.g. ``product/<id>``), and its facts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: uuid.UUID
    type: str = Field(pattern=EVENT_TYPE.pattern, max_length=120)
    occurred_at: datetime
    source: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    subject: str = Field(pattern=SUBJECT_PATTERN)
    data: dict[str, Any]
    request_id: str | None = Field(default=None, max_length=200)

    def to_json(self) -> bytes:
        """The envelope as the bytes that are signed and posted."""
        return orjson.dumps(self.model_dump(mode="json"))


class MalformedEnvelope(ValueError):
    """A delivered body is not an envelope; ``errors`` names each bad field."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{error['field']}: {error['message']}" for error in errors))
        self.errors = errors


def parse_envelope(body: bytes) -> Envelope:
    """The envelope in ``body``; MalformedEnvelope naming every bad field otherwise."""
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedEnvelope([{"field": "body", "message": f"not JSON: {exc}"}]) from exc
    if not isinstance(raw, dict):
        raise MalformedEnvelope([{"field": "body", "message": "an event envelope is a JSON object"}])
    try:
        return Envelope.model_validate(raw)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(["body", *map(str, error["loc"])]), "message": error["msg"]}
            for error in exc.errors()
        ]
        raise MalformedEnvelope(errors) from exc
