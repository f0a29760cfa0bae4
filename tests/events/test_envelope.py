"""Envelopes: what parses, and every bad field named when one does not."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from shared.events.envelope import Envelope, MalformedEnvelope, parse_envelope


def valid(**changes: Any) -> dict[str, Any]:
    """A well-formed envelope as JSON-ready data, with ``changes``."""
    envelope = {
        "id": str(uuid.uuid4()),
        "type": "scoring.certificate.issued",
        "occurred_at": "2025-03-01T08:00:00+00:00",
        "source": "scoring",
        "subject": f"product/{uuid.uuid4()}",
        "data": {"number": "OCOP-91-2025-0001", "star": 4},
        "request_id": "req-1",
    }
    return envelope | changes


def fields_of(body: bytes) -> set[str]:
    """The fields the parse error names."""
    with pytest.raises(MalformedEnvelope) as raised:
        parse_envelope(body)
    return {error["field"] for error in raised.value.errors}


def test_a_valid_envelope_round_trips() -> None:
    """Parsed, then serialised, then parsed again: the same envelope."""
    raw = valid()
    envelope = parse_envelope(orjson.dumps(raw))
    assert envelope.id == uuid.UUID(raw["id"])
    assert envelope.occurred_at == datetime(2025, 3, 1, 8, tzinfo=UTC)
    assert envelope.data == raw["data"]
    assert parse_envelope(envelope.to_json()) == envelope


def test_request_id_is_optional() -> None:
    """An event emitted outside any request has no request id."""
    raw = valid()
    del raw["request_id"]
    assert parse_envelope(orjson.dumps(raw)).request_id is None


def test_not_json_is_named_as_the_body() -> None:
    """Bytes that are not JSON (or not UTF-8) are the body's fault."""
    assert fields_of(b"{not json") == {"body"}
    assert fields_of(b"\xff\xfe") == {"body"}
    assert fields_of(b"") == {"body"}


def test_json_that_is_not_an_object_is_named_as_the_body() -> None:
    """An array, a string, a number, null: not an envelope."""
    for body in [b"[]", b'"event"', b"42", b"null"]:
        assert fields_of(body) == {"body"}, body


def test_every_missing_field_is_named() -> None:
    """An empty object names each required field, not just the first."""
    assert fields_of(b"{}") == {
        "body.id", "body.type", "body.occurred_at", "body.source", "body.subject", "body.data",
    }  # fmt: skip


def test_every_bad_field_is_named_at_once() -> None:
    """Several bad fields in one envelope: each is named."""
    raw = valid(
        id="not-a-uuid", type="Scoring.Certificate", subject="product", data=[1], occurred_at="yesterday"
    )
    assert fields_of(orjson.dumps(raw)) == {
        "body.id", "body.type", "body.subject", "body.data", "body.occurred_at",
    }  # fmt: skip


@pytest.mark.parametrize(
    "event_type",
    ["scoring.certificate", "scoring.certificate.issued.again", "Scoring.certificate.issued",
     "scoring..issued", "scoring.certificate.issued ", "1scoring.certificate.issued", "x" * 119 + ".a.b"],
)  # fmt: skip
def test_a_type_off_the_pattern_is_named(event_type: str) -> None:
    """A type is ``<service>.<entity>.<verb>``, lower case, at most 120 characters."""
    assert fields_of(orjson.dumps(valid(type=event_type))) == {"body.type"}


@pytest.mark.parametrize(
    "subject",
    ["product", "/abc", "Product/abc", "product/", "product/a b", "product/a/b", "product/" + "a" * 201],
)
def test_a_bad_subject_is_named(subject: str) -> None:
    """A subject is ``<kind>/<id>`` with a plain id."""
    assert fields_of(orjson.dumps(valid(subject=subject))) == {"body.subject"}


def test_a_bad_source_is_named() -> None:
    """The source is a service's name."""
    assert fields_of(orjson.dumps(valid(source="Scoring Service"))) == {"body.source"}


def test_extra_fields_are_named() -> None:
    """An envelope carries exactly its fields: anything else is named, each."""
    assert fields_of(orjson.dumps(valid(secret="x", version=2))) == {"body.secret", "body.version"}


def test_the_message_names_the_fields() -> None:
    """The exception's text (a problem's detail) names each field too."""
    with pytest.raises(MalformedEnvelope, match=r"body\.id.*body\.subject"):
        parse_envelope(orjson.dumps(valid(id="x", subject="x")))


def test_an_envelope_is_frozen() -> None:
    """An event is a fact: it cannot be changed once made."""
    envelope = Envelope.model_validate(valid())
    with pytest.raises(ValueError, match="frozen"):
        envelope.type = "scoring.certificate.revoked"  # type: ignore[misc]
