"""Is it valid EPCIS 2.0? JSON, GS1's JSON Schema (compiled once), CBV vocabularies and event times.

Pure: no database. GS1's schema (``gs1/EPCIS-JSON-Schema.json``, with GS1's licence beside it) is
checked by jsonschema-rs: a 10,000-event document in about 0.1 s where the pure-Python validator
needs about 20 s. Problems are located by JSON pointer; those inside an event carry its index, so a
capture with ``GS1-Capture-Error-Behaviour: proceed`` can store the others.

CBV values (bizStep, disposition, persistentDisposition, errorDeclaration reason, business transaction
and source/destination types) are accepted as bare words (``shipping``), Web URIs
(``https://ref.gs1.org/cbv/BizStep-shipping``) or URNs (``urn:epcglobal:cbv:bizstep:shipping``). A CBV
value not in CBV 2.0 is refused whatever its form. GS1's JSON schema refuses the URN form (it belongs to
the XML binding and EPCIS 1.x), so a URN is rewritten to its bare word, which the JSON-LD context expands
to the same term; nothing else in the event is changed. Any other URI is an extension value, kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson

from services.stamps.epcis.errors import EpcisValidationError

SCHEMA_PATH = Path(__file__).parent / "gs1" / "EPCIS-JSON-Schema.json"
CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
EVENT_LIST = ("epcisBody", "eventList")
# Problems named in one answer at most (the count says how many there were).
PROBLEMS_SHOWN = 100


@dataclass(frozen=True)
class Vocabulary:
    """One CBV vocabulary: its schema definition, its URN and Web URI prefixes."""

    definition: str
    urn: str
    web: str


BIZ_STEP = Vocabulary("bizStep", "urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-")
DISPOSITION = Vocabulary("disposition", "urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-")
ERROR_REASON = Vocabulary("error-reason", "urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-")
BIZ_TRANSACTION_TYPE = Vocabulary(
    "bizTransaction-type", "urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-"
)
SOURCE_DESTINATION_TYPE = Vocabulary(
    "source-dest-type", "urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-"
)


@dataclass(frozen=True)
class Problem:
    """What is wrong where: a JSON pointer into the document, and the event's index when inside one."""

    pointer: str
    message: str
    event: int | None = None

    def as_error(self) -> dict[str, Any]:
        """The problem as one entry of a problem response's ``errors``."""
        return {"field": self.pointer, "message": self.message, "type": "epcis_validation"}


@cache
def _schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


@cache
def _validator() -> Any:
    """GS1's schema, compiled once per process."""
    return jsonschema_rs.validator_for(_schema(), validate_formats=True)


@cache
def words(vocabulary: Vocabulary) -> frozenset[str]:
    """The bare words of a CBV vocabulary, as GS1's schema enumerates them."""
    for option in _schema()["definitions"][vocabulary.definition]["anyOf"]:
        if "enum" in option:
            return frozenset(option["enum"])
    raise LookupError(vocabulary.definition)  # pragma: no cover - the schema file is ours


# The words already read, per vocabulary and value (a document repeats a few values: reading them once).
_WORDS_READ: dict[tuple[str, str], str | None] = {}
_WORDS_READ_MAX = 4096


def cbv_word(vocabulary: Vocabulary, value: str) -> str | None:
    """The CBV bare word ``value`` stands for (in any of its three forms); None for an extension URI.

    Raises ValueError for a CBV value (bare word, CBV URN or CBV Web URI) that CBV 2.0 does not define.
    """
    key = (vocabulary.definition, value)
    try:
        return _WORDS_READ[key]
    except KeyError:
        pass
    word = _cbv_word(vocabulary, value)
    if len(_WORDS_READ) < _WORDS_READ_MAX:
        _WORDS_READ[key] = word
    return word


def _cbv_word(vocabulary: Vocabulary, value: str) -> str | None:
    for prefix in (vocabulary.urn, vocabulary.web, vocabulary.web.replace("https:", "http:", 1)):
        if value.startswith(prefix):
            word = value[len(prefix) :]
            break
    else:
        if ":" in value:
            return None
        word = value
    if word not in words(vocabulary):
        raise ValueError(f"{value!r} is not a CBV 2.0 {vocabulary.definition} value")
    return word


def index_value(vocabulary: Vocabulary, value: Any) -> str | None:
    """What an indexed column holds for a CBV field: the bare word, an extension URI as is, or None."""
    if not isinstance(value, str):
        return None
    try:
        return cbv_word(vocabulary, value) or value
    except ValueError:
        return value


def parse(body: bytes) -> Any:
    """The JSON of a request body; EpcisValidationError (400) if it is not JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise EpcisValidationError(
            f"The body is not JSON: {exc}",
            errors=[{"field": "body", "message": "invalid JSON", "type": "json_invalid"}],
        ) from exc


def _pointer(path: Any) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def _vocabulary_slots(event: dict[str, Any]) -> list[tuple[Vocabulary, Any, Any, str]]:
    """Every CBV value of an event: (vocabulary, the container, its key or index, its pointer suffix)."""
    slots: list[tuple[Vocabulary, Any, Any, str]] = []
    for key, vocabulary in (("bizStep", BIZ_STEP), ("disposition", DISPOSITION)):
        slots.append((vocabulary, event, key, f"/{key}"))
    persistent = event.get("persistentDisposition")
    if isinstance(persistent, dict):
        for key in ("set", "unset"):
            values = persistent.get(key)
            if isinstance(values, list):
                slots += [
                    (DISPOSITION, values, i, f"/persistentDisposition/{key}/{i}") for i in range(len(values))
                ]
    declaration = event.get("errorDeclaration")
    if isinstance(declaration, dict):
        slots.append((ERROR_REASON, declaration, "reason", "/errorDeclaration/reason"))
    for key, vocabulary in (
        ("bizTransactionList", BIZ_TRANSACTION_TYPE),
        ("sourceList", SOURCE_DESTINATION_TYPE),
        ("destinationList", SOURCE_DESTINATION_TYPE),
    ):
        items = event.get(key)
        if isinstance(items, list):
            slots += [
                (vocabulary, item, "type", f"/{key}/{i}/type")
                for i, item in enumerate(items)
                if isinstance(item, dict)
            ]
    return slots


def _check_vocabulary(event: dict[str, Any], pointer: str, index: int) -> list[Problem]:
    """Refuse unknown CBV values; rewrite CBV URNs to their bare words (module docstring)."""
    problems = []
    for vocabulary, container, key, suffix in _vocabulary_slots(event):
        value = container.get(key) if isinstance(container, dict) else container[key]
        if not isinstance(value, str):
            continue  # the schema names the wrong type
        try:
            word = cbv_word(vocabulary, value)
        except ValueError as exc:
            problems.append(Problem(pointer + suffix, f"unknown vocabulary: {exc}", index))
            continue
        if word is not None and value.startswith(vocabulary.urn):
            container[key] = word
    return problems


def _check_time(event: dict[str, Any], pointer: str, index: int, latest: datetime) -> list[Problem]:
    """An event may not happen after ``latest`` (now plus the tolerance for clocks that run ahead)."""
    value = event.get("eventTime")
    if not isinstance(value, str):
        return []
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return [Problem(pointer + "/eventTime", "not an RFC 3339 date-time", index)]
    if moment.tzinfo is None:
        return [Problem(pointer + "/eventTime", "a date-time needs its offset from UTC", index)]
    if moment > latest:
        return [
            Problem(
                pointer + "/eventTime", f"{value} is in the future (later than {latest.isoformat()})", index
            )
        ]
    return []


def check_document(
    document: Any, *, now: datetime, tolerance: timedelta
) -> tuple[list[dict[str, Any]], list[Problem]]:
    """The document's events and every problem found (envelope problems have no event index).

    CBV URNs in the events are rewritten in place to their bare words.
    """
    if not isinstance(document, dict):
        return [], [Problem("", "an EPCISDocument is a JSON object")]
    if document.get("type") != "EPCISDocument":
        return [], [Problem("/type", "expected an EPCISDocument")]
    body = document.get("epcisBody")
    events = body.get("eventList") if isinstance(body, dict) else None
    if not isinstance(events, list):
        return [], [Problem("/epcisBody/eventList", "an EPCISDocument carries epcisBody.eventList")]
    problems: list[Problem] = []
    latest = now + tolerance
    for index, event in enumerate(events):
        if isinstance(event, dict):
            pointer = f"/epcisBody/eventList/{index}"
            problems += _check_vocabulary(event, pointer, index)
            problems += _check_time(event, pointer, index, latest)
    for error in _validator().iter_errors(document):
        path = list(error.instance_path)
        inside = len(path) > 2 and tuple(path[:2]) == EVENT_LIST and isinstance(path[2], int)
        problems.append(Problem(_pointer(path), error.message[:500], path[2] if inside else None))
    return events, problems


def single_event_document(event: Any, *, created: datetime) -> dict[str, Any]:
    """A document around one event (``POST /events``), so one set of rules checks both ways in."""
    context = event.get("@context", [CONTEXT]) if isinstance(event, dict) else [CONTEXT]
    return {
        "@context": context,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": created.isoformat(),
        "epcisBody": {"eventList": [event]},
    }


def raise_problems(problems: list[Problem], what: str) -> None:
    """Refuse with a 400 naming the problems (at most PROBLEMS_SHOWN of them), if there are any."""
    if problems:
        raise EpcisValidationError(
            f"{len(problems)} problem(s) in the {what}: {problems[0].pointer or '/'}: {problems[0].message}",
            errors=[problem.as_error() for problem in problems[:PROBLEMS_SHOWN]],
        )
