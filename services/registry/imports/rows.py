"""The rows of an import file: parsed by the registration schemas, then registered through the services.

What is a rule of the file stays here: the header, each row's cells against its schema, and one row
per record (a second row for the same tax code or product is an error naming the first). Everything
about the registry (communes, access, uniqueness, codes, history) is the entities and products
services' own rules, applied to a batch of rows at a time; their problems become row errors, with the
problem's field as the column.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.batch import Batch
from services.registry.entities import service as entity_service
from services.registry.files.columns import FileLayout, cell_to_input, normalise_header
from services.registry.imports.readers import RawRow
from services.registry.products import service as product_service
from shared.errors import ProblemError
from shared.security.principal import Principal

MAX_SHOWN_INPUT = 60
MAX_STORED_ERRORS = 1_000


def fingerprint(*parts: object) -> bytes:
    """A fixed-size stand-in for a key (16-byte BLAKE2b: a collision is not a practical concern)."""
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=16).digest()


def row_error(row: int | None, column: str | None, message: str) -> dict[str, Any]:
    """One entry of a job's error list."""
    return {"row": row, "column": column, "message": message}


def problem_error(row: int, problem: ProblemError) -> dict[str, Any]:
    """A service's problem with a row as the job lists it: the field as the column, the problem's words."""
    errors = problem.extensions.get("errors")
    if errors:
        at, message = errors[0]["field"], errors[0]["message"]
    else:
        at, message = problem.extensions.get("field"), problem.detail or problem.title
    return row_error(row, at.removeprefix("body.") if at else None, message)


class RegistryChanged(Exception):
    """The writing pass found what the validation pass had not (someone changed the registry meanwhile)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} row(s) no longer valid")
        self.errors = errors


class ErrorLog:
    """The errors of a job: every one counted, the first ``limit`` kept."""

    def __init__(self, limit: int = MAX_STORED_ERRORS) -> None:
        self.limit = limit
        self.items: list[dict[str, Any]] = []
        self.dropped = 0

    def extend(self, errors: list[dict[str, Any]]) -> None:
        """Keep what fits; count the rest."""
        room = self.limit - len(self.items)
        self.items.extend(errors[:room])
        self.dropped += max(0, len(errors) - room)

    def stored(self) -> list[dict[str, Any]]:
        """The list as the job keeps it: the kept errors, then one line saying how many were not kept."""
        if not self.dropped:
            return self.items
        return [*self.items, row_error(None, None, f"{self.dropped} more error(s) not listed")]


MAX_HEADER_ERRORS = 20


def header_errors(layout: FileLayout, header: list[object]) -> list[dict[str, Any]]:
    """Errors of the header row: unnamed, repeated and unknown columns; missing required ones."""
    names = [normalise_header(cell) for cell in header]
    if not names:
        return [row_error(1, None, "the file is empty: the first row must name the columns")]
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if not name:
            errors.append(row_error(1, None, f"column {position} has no name"))
        elif name in seen:
            errors.append(row_error(1, name, "this column appears twice"))
        elif name not in layout.kinds:
            errors.append(row_error(1, name, f"unknown column; the columns are: {', '.join(layout.columns)}"))
        seen.add(name)
    errors.extend(
        row_error(1, column, "required column is missing")
        for column in layout.columns
        if column in layout.required and column not in seen
    )
    if len(errors) > MAX_HEADER_ERRORS:
        # A file with thousands of columns would otherwise return thousands of near-identical errors.
        kept = errors[:MAX_HEADER_ERRORS]
        kept.append(row_error(1, None, f"{len(errors) - MAX_HEADER_ERRORS} more error(s) in the header row"))
        return kept
    return errors


@dataclass
class ParsedRow:
    """A data row after schema validation, and the errors found in it."""

    number: int
    data: Any  # the validated schema instance, None when a field failed its schema
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Counts:
    """What writing some rows did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @classmethod
    def of(cls, batch: Batch) -> Counts:
        """The counts of a written batch."""
        return cls(batch.count("created"), batch.count("updated"), batch.count("unchanged"))

    def add(self, other: Counts) -> None:
        """Accumulate another batch's counts."""
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN_INPUT else text[: MAX_SHOWN_INPUT - 1] + "…"


def parse_row(layout: FileLayout, raw: RawRow, *, from_csv: bool) -> ParsedRow:
    """Turn a raw row's cells into schema input and validate it; errors name the row and column."""
    values: dict[str, Any] = {}
    for column, cell in raw.cells.items():
        kind = layout.kinds.get(column)
        if kind is None:
            continue
        value = cell_to_input(kind, cell, from_csv=from_csv)
        if value is not None:
            values[column] = value
    row = ParsedRow(raw.number, None)
    if raw.overflow:
        row.errors.append(
            row_error(raw.number, None, f"{raw.overflow} cell(s) to the right of the last column")
        )
    try:
        row.data = layout.schema.model_validate(values)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            named = str(error["loc"][0]) if error["loc"] else None
            message = error["msg"]
            if error["type"] != "missing" and named in values:
                message = f"{message} (got {_shown(values[named])})"
            row.errors.append(row_error(raw.number, named, message))
    if row.errors:
        row.data = None
    return row


class FileRows:
    """The rows of one file, a batch at a time; remembers (compactly) which records earlier rows named."""

    def __init__(self, principal: Principal, present: frozenset[str]) -> None:
        self.principal = principal
        self.present = present
        # The first row of each key, by fingerprint: a 100,000-row file holds 100,000 of each.
        self.first_rows: dict[Any, int] = {}

    def repeated(self, row: ParsedRow, keys: list[tuple[Any, str, str]]) -> bool:
        """Whether an earlier row has one of ``keys`` (key, column, what); else remember them as this row's."""
        for key, column, what in keys:
            first = self.first_rows.get(key)
            if first is not None:
                row.errors.append(row_error(row.number, column, f"row {first} has {what}"))
                return True
        for key, _, _ in keys:
            self.first_rows[key] = row.number
        return False

    def report(self, rows: list[ParsedRow], batch: Batch) -> None:
        """Each refused row's problem as its error."""
        for row, outcome in zip(rows, batch.outcomes, strict=True):
            if outcome.problem is not None:
                row.errors.append(problem_error(row.number, outcome.problem))


class EntityRows(FileRows):
    """An entities file: one row per tax code, registered or (by tax code) updated by the entities service."""

    def __init__(self, principal: Principal, present: frozenset[str], today: Any) -> None:
        super().__init__(principal, present)
        self.today = today

    async def apply(self, session: AsyncSession, rows: list[ParsedRow], *, write: bool) -> Counts:
        """Check a batch of rows (and write them, when ``write``); errors are added to the rows."""
        candidates = [
            row
            for row in rows
            if row.data is not None
            and not self.repeated(row, [(row.data.tax_code, "tax_code", "the same tax code")])
        ]
        batch = await entity_service.save_entities(
            session, principal=self.principal, rows=[row.data for row in candidates], columns=self.present,
            update=True, dry_run=not write, today=self.today,
        )  # fmt: skip
        self.report(candidates, batch)
        return Counts.of(batch) if batch.written else Counts()


class ProductRows(FileRows):
    """A products file: a product is named by (entity, external id), else (entity, name); one row each."""

    def __init__(
        self,
        principal: Principal,
        present: frozenset[str],
        job_id: uuid.UUID,
        codes: product_service.CodeNumbers | None = None,
    ) -> None:
        super().__init__(principal, present)
        self.job_id = job_id
        self.codes = codes
        # New products per commune (counted by the validation pass): their codes are reserved before the
        # writing pass, so the sequence row is never locked for a whole import.
        self.new_per_commune: Counter[str] = Counter()

    def _keys(self, data: Any) -> list[tuple[Any, str, str]]:
        keys: list[tuple[Any, str, str]] = [
            (fingerprint("name", data.entity_tax_code, data.name), "name", "the same entity and name")
        ]
        if data.external_id is not None:
            keys.append(
                (
                    fingerprint("id", data.entity_tax_code, data.external_id),
                    "external_id",
                    "the same external id",
                )
            )
        if data.gtin is not None:
            keys.append((fingerprint("gtin", data.gtin), "gtin", "the same GTIN"))
        return keys

    async def apply(self, session: AsyncSession, rows: list[ParsedRow], *, write: bool) -> Counts:
        """Check a batch of rows (and write them, when ``write``); errors are added to the rows."""
        candidates = [
            row for row in rows if row.data is not None and not self.repeated(row, self._keys(row.data))
        ]
        inputs = [
            product_service.ProductInput(
                row.data.model_dump(exclude={"entity_tax_code"}), entity_tax_code=row.data.entity_tax_code
            )
            for row in candidates
        ]
        batch = await product_service.save_products(
            session, principal=self.principal, rows=inputs, columns=self.present, update=True,
            dry_run=not write, codes=self.codes, import_job=self.job_id,
        )  # fmt: skip
        self.report(candidates, batch)
        for row, outcome in zip(candidates, batch.outcomes, strict=True):
            if outcome.problem is not None:
                continue
            # Two rows may find the same stored product by different keys (one by external id, one by name).
            if outcome.action != "created" and self.repeated(
                row, [(outcome.record_id, "name", "the same product")]
            ):
                continue
            if outcome.action == "created" and outcome.commune_code is not None:
                self.new_per_commune[outcome.commune_code] += 1
        return Counts.of(batch) if batch.written else Counts()


RowRules = EntityRows | ProductRows
