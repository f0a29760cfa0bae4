"""The JSON Schema of every event type, read from docs/EVENTS.md (the one catalogue), and the check of an envelope."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import jsonschema
import orjson

from shared.events.envelope import Envelope
from shared.topology import REPO_ROOT

CATALOGUE = REPO_ROOT / "docs" / "EVENTS.md"
SCHEMA_BLOCK = re.compile(r"```json event-schema\n(.*?)\n```", re.DOTALL)
NATIONAL_BLOCK = re.compile(r"```json national-schema\n(.*?)\n```", re.DOTALL)


@cache
def schemas() -> dict[str, dict[str, Any]]:
    """Each documented event type's schema of ``data`` (a block may document several types)."""
    by_type: dict[str, dict[str, Any]] = {}
    for block in SCHEMA_BLOCK.findall(CATALOGUE.read_text(encoding="utf-8")):
        schema = orjson.loads(block)
        jsonschema.Draft202012Validator.check_schema(schema)
        for event_type in schema["x-event-types"]:
            assert event_type not in by_type, f"{event_type} is documented twice"
            by_type[event_type] = schema
    return by_type


def check_envelope(envelope: Envelope) -> None:
    """Refuse an event whose type is undocumented or whose data or subject break its schema."""
    schema = schemas().get(envelope.type)
    if schema is None:
        raise AssertionError(f"event type {envelope.type} is not documented in docs/EVENTS.md")
    data = orjson.loads(envelope.to_json())["data"]
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(data), key=lambda error: list(error.path))
    if errors:
        where = "; ".join(f"{'.'.join(map(str, e.path)) or 'data'}: {e.message}" for e in errors[:5])
        raise AssertionError(f"{envelope.type} breaks its schema in docs/EVENTS.md: {where}")
    if not re.fullmatch(schema["x-subject"], envelope.subject):
        raise AssertionError(f"{envelope.type}: subject {envelope.subject!r} is not {schema['x-subject']}")


@cache
def national_schema() -> dict[str, Any]:
    """The JSON Schema of a delivery to the national system (docs/EVENTS.md, "The national sync")."""
    [block] = NATIONAL_BLOCK.findall(CATALOGUE.read_text(encoding="utf-8"))
    schema: dict[str, Any] = orjson.loads(block)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def national_errors(body: Any) -> list[str]:
    """What breaks the national schema in ``body`` (empty: a valid delivery)."""
    validator = jsonschema.Draft202012Validator(national_schema(), format_checker=jsonschema.FormatChecker())
    return [f"{'.'.join(map(str, e.path)) or 'body'}: {e.message}" for e in validator.iter_errors(body)]
