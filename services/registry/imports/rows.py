"""The rules a file's rows must follow beyond their schema, and how valid rows are written.

Both passes of an import run the same checks: the validation pass to report errors, the writing
pass (inside the data transaction) to find what each row creates or updates. Rows are handled a
batch at a time with one query per lookup, never a query per row.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError

from services.registry import policies
from services.registry.files.columns import FileLayout, cell_to_input
from services.registry.imports.readers import RawRow
from services.registry.imports.repository import CommuneRef, EntityRef, ImportDataRepository
from services.registry.products.classification import classify
from services.registry.products.identifiers import gtin_is_valid, product_code
from shared.security.principal import Principal, Role
from shared.security.scopes import Place
from shared.text import fold

MAX_SHOWN_INPUT = 60


def fingerprint(*parts: object) -> bytes:
    """A fixed-size stand-in for a key (16-byte BLAKE2b: a collision is not a practical concern)."""
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=16).digest()


def row_error(row: int | None, column: str | None, message: str) -> dict[str, Any]:
    """One entry of a job's error list."""
    return {"row": row, "column": column, "message": message}


class RegistryChanged(Exception):
    """The writing pass found what the validation pass had not (someone changed the registry meanwhile)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} row(s) no longer valid")
        self.errors = errors


@dataclass
class ParsedRow:
    """A data row after schema validation; the checks add errors or what to write."""

    number: int
    data: Any  # the validated schema instance, None when a field failed its schema
    errors: list[dict[str, Any]] = field(default_factory=list)
    values: dict[str, Any] | None = None  # the columns to insert, or to update an existing record with
    existing: Any = None  # the stored record an update targets


@dataclass
class Counts:
    """What writing some rows did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0

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


def _outside_unit(principal: Principal) -> str:
    return " in your unit" if principal.role is not Role.admin else ""


class EntityRows:
    """Entity rows: a commune valid today within the importer's unit; one row per tax code."""

    def __init__(
        self, principal: Principal, present: frozenset[str], communes: dict[str, CommuneRef]
    ) -> None:
        self.principal = principal
        self.communes = communes
        self.seen: dict[str, int] = {}
        # The commune decides three stored columns; legal_name decides name_folded.
        self.update_columns = [
            *(column for column in present if column not in ("tax_code", "commune_code")),
            "name_folded", "admin_unit_id", "commune_code", "province_code",
        ]  # fmt: skip

    def _place(self, row: ParsedRow, current: EntityRef | None) -> tuple[int, str, str] | None:
        data = row.data
        commune = self.communes.get(data.commune_code)
        if commune is not None:
            if not policies.can_register_in(self.principal, commune.code, commune.province_code):
                row.errors.append(row_error(row.number, "commune_code", "commune outside your unit"))
                return None
            return commune.id, commune.code, commune.province_code
        if current is not None and current.commune_code == data.commune_code:
            # An entity keeps the commune it was registered in after a reform; only a move needs today's.
            return current.admin_unit_id, current.commune_code, current.province_code
        row.errors.append(row_error(row.number, "commune_code", "names no commune valid today"))
        return None

    async def check(self, repository: ImportDataRepository, rows: list[ParsedRow]) -> None:
        """Add each row's errors, or the values to upsert."""
        candidates = [row for row in rows if row.data is not None]
        existing = await repository.entities_by_tax_code({row.data.tax_code for row in candidates})
        for row in candidates:
            data = row.data
            current = existing.get(data.tax_code)
            if current is not None and not policies.can_edit(
                self.principal, Place(current.id, current.commune_code, current.province_code)
            ):
                row.errors.append(
                    row_error(row.number, "tax_code", "already registered to an entity outside your unit")
                )
                continue
            place = self._place(row, current)
            if place is None:
                continue
            first = self.seen.get(data.tax_code)
            if first is not None:
                row.errors.append(row_error(row.number, "tax_code", f"row {first} has the same tax code"))
                continue
            self.seen[data.tax_code] = row.number
            admin_unit_id, commune_code, province_code = place
            row.values = {
                **data.model_dump(exclude={"commune_code"}),
                "id": current.id if current else uuid.uuid4(),
                "name_folded": fold(data.legal_name),
                "admin_unit_id": admin_unit_id,
                "commune_code": commune_code,
                "province_code": province_code,
            }

    async def write(self, repository: ImportDataRepository, rows: list[ParsedRow]) -> Counts:
        """Upsert the checked rows by tax code."""
        values = [row.values for row in rows if row.values is not None]
        created, updated = await repository.upsert_entities(values, self.update_columns)
        return Counts(created, updated, len(values) - created - updated)


# Stored columns derived from imported ones: written with them, left out of the change history.
_PRODUCT_DERIVED = ("name_folded", "product_group", "sector")


class ProductRows:
    """Product rows: an entity the importer may edit; identified by (entity, external id) or (entity, name)."""

    def __init__(
        self,
        principal: Principal,
        present: frozenset[str],
        job_id: uuid.UUID,
        today: date,
        reserved: dict[str, range] | None = None,
    ) -> None:
        self.principal = principal
        self.job_id = job_id
        self.year = today.year
        # New products per commune (counted by the validation pass), and the code numbers reserved for
        # them before the writing pass: the sequence row is never locked for a whole import.
        self.new_per_commune: Counter[str] = Counter()
        self.reserved = {commune: iter(numbers) for commune, numbers in (reserved or {}).items()}
        self.fields = [column for column in present if column != "entity_tax_code"]
        self.update_columns = [*self.fields, *_PRODUCT_DERIVED]
        self.entities: dict[str, EntityRef | None] = {}
        # The first row of each product key, by fingerprint: a 100,000-row file holds 100,000 of each.
        self.names: dict[bytes, int] = {}
        self.external_ids: dict[bytes, int] = {}
        self.gtins: dict[str, int] = {}
        self.targets: dict[uuid.UUID, int] = {}

    async def _entities(self, repository: ImportDataRepository, rows: list[ParsedRow]) -> None:
        missing = {row.data.entity_tax_code for row in rows} - self.entities.keys()
        found = await repository.entities_by_tax_code(missing)
        for tax_code in missing:
            entity = found.get(tax_code)
            editable = entity is not None and policies.can_edit(
                self.principal, Place(entity.id, entity.commune_code, entity.province_code)
            )
            self.entities[tax_code] = entity if editable else None

    def _target(
        self, row: ParsedRow, entity: EntityRef, by_name: dict[Any, Any], by_external: dict[Any, Any]
    ) -> Any:
        """The stored product this row updates (None: a new one), or False after adding an error."""
        data = row.data
        named = by_name.get((entity.id, data.name))
        if data.external_id is not None:
            target = by_external.get((entity.id, data.external_id))
            if target is None and named is not None and named["external_id"] is None:
                return named  # a product first imported without an external id gets one now
            if named is not None and (target is None or named["id"] != target["id"]):
                row.errors.append(row_error(
                    row.number, "name",
                    f"the entity has another product with this name (external id {named['external_id']!r})",
                ))  # fmt: skip
                return False
            return target
        return named

    async def check(self, repository: ImportDataRepository, rows: list[ParsedRow]) -> None:
        """Add each row's errors, or the values to insert or the changes to make."""
        candidates = [row for row in rows if row.data is not None]
        await self._entities(repository, candidates)
        keyed: list[tuple[ParsedRow, EntityRef]] = []
        for row in candidates:
            entity = self.entities[row.data.entity_tax_code]
            if entity is None:
                row.errors.append(row_error(
                    row.number, "entity_tax_code", f"no entity with this tax code{_outside_unit(self.principal)}"
                ))  # fmt: skip
            elif row.data.gtin is not None and not gtin_is_valid(row.data.gtin):
                row.errors.append(row_error(row.number, "gtin", "the GS1 check digit is wrong"))
            else:
                keyed.append((row, entity))
        stored = await repository.products_by_keys(
            {(entity.id, row.data.name) for row, entity in keyed},
            {(entity.id, row.data.external_id) for row, entity in keyed if row.data.external_id is not None},
        )
        by_name = {(product["entity_id"], product["name"]): product for product in stored}
        by_external = {
            (product["entity_id"], product["external_id"]): product
            for product in stored
            if product["external_id"] is not None
        }
        gtin_owners = await repository.products_by_gtin(
            {row.data.gtin for row, _ in keyed if row.data.gtin is not None}
        )
        for row, entity in keyed:
            target = self._target(row, entity, by_name, by_external)
            if target is False:
                continue
            data = row.data
            owner = gtin_owners.get(data.gtin) if data.gtin is not None else None
            if owner is not None and (target is None or owner != target["id"]):
                row.errors.append(row_error(row.number, "gtin", "already registered to another product"))
                continue
            if self._repeated(row, entity, target):
                continue
            self._prepare(row, entity, target)

    def _repeated(self, row: ParsedRow, entity: EntityRef, target: Any) -> bool:
        """Whether an earlier row of the file names the same product (it would be written twice)."""
        data = row.data
        keys: list[tuple[dict[Any, int], Any, str, str]] = [
            (self.names, fingerprint(entity.id, data.name), "name", "the same entity and name"),
        ]
        if data.external_id is not None:
            keys.append(
                (
                    self.external_ids,
                    fingerprint(entity.id, data.external_id),
                    "external_id",
                    "the same external id",
                )
            )
        if data.gtin is not None:
            keys.append((self.gtins, data.gtin, "gtin", "the same GTIN"))
        if target is not None:
            keys.append((self.targets, target["id"], "name", "the same product"))
        for seen, key, column, what in keys:
            first = seen.get(key)
            if first is not None:
                row.errors.append(row_error(row.number, column, f"row {first} has {what}"))
                return True
        for seen, key, _, _ in keys:
            seen[key] = row.number
        return False

    def _prepare(self, row: ParsedRow, entity: EntityRef, target: Any) -> None:
        data = row.data
        if target is None:
            self.new_per_commune[entity.commune_code] += 1
            group, sector = classify(data.product_set, data.classification)
            row.values = {
                **data.model_dump(exclude={"entity_tax_code"}),
                "id": uuid.uuid4(),
                "entity_id": entity.id,
                "name_folded": fold(data.name),
                "product_group": group,
                "sector": sector,
                "commune_code": entity.commune_code,
                "province_code": entity.province_code,
                "images": [],
                "status": "idea",
            }
            return
        new = {column: getattr(data, column) for column in self.fields}
        classification = new.get("classification", target["classification"])
        new["product_group"], new["sector"] = classify(new["product_set"], classification)
        new["name_folded"] = fold(new["name"])
        row.existing = target
        row.values = {"id": target["id"], **new}

    async def write(self, repository: ImportDataRepository, rows: list[ParsedRow]) -> Counts:
        """Insert new products (with reserved codes), update changed ones, and record both in the history."""
        checked = [row for row in rows if row.values is not None]
        new = [row.values for row in checked if row.existing is None and row.values is not None]
        changed: list[tuple[dict[str, Any], dict[str, list[Any]]]] = []
        for row in checked:
            if row.existing is not None and row.values is not None:
                diff = {
                    column: [row.existing[column], row.values[column]]
                    for column in self.update_columns
                    if row.existing[column] != row.values[column]
                }
                if diff:
                    changed.append((row.values, diff))
        self._assign_codes(new)
        await repository.insert_products(new)
        await repository.update_products([values for values, _ in changed], self.update_columns)
        actor, role = self.principal.sub, self.principal.role.value
        job = str(self.job_id)
        history = [
            {"product_id": values["id"], "actor": actor, "actor_role": role, "action": "registered",
             "changes": {"name": [None, values["name"]], "import_job": job}}
            for values in new
        ] + [
            {"product_id": values["id"], "actor": actor, "actor_role": role, "action": "updated",
             "changes": {**{k: v for k, v in diff.items() if k not in _PRODUCT_DERIVED}, "import_job": job}}
            for values, diff in changed
        ]  # fmt: skip
        await repository.record_product_changes(history)
        return Counts(len(new), len(changed), len(checked) - len(new) - len(changed))

    def _assign_codes(self, new: list[dict[str, Any]]) -> None:
        for values in new:
            commune = values["commune_code"]
            number = next(self.reserved.get(commune, iter(())), None)
            if number is None:
                raise RegistryChanged(
                    [row_error(None, None, f"more new products in commune {commune} than validated")]
                )
            values["product_code"] = product_code(values["province_code"], commune, number, self.year)


RowRules = EntityRows | ProductRows
