"""The columns of entity and product files (imports and exports), and how cells become schema input and back.

The columns are the registration schemas' own fields (``EntityCreate``; ``ProductCreate`` with the
entity named by its tax code and without images or status), so a file is validated by exactly the
rules of the API and an export is a file that imports with no changes.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import create_model
from pydantic.fields import FieldInfo

from services.registry.entities.schemas import EntityCreate, TaxCode
from services.registry.products.schemas import ProductCreate
from shared.schemas import BaseSchema

ImportKind = Literal["entities", "products"]
FileFormat = Literal["csv", "xlsx"]
ColumnKind = Literal["text", "code", "int", "decimal", "date", "list"]

LIST_SEPARATOR = "; "
# Excel (and LibreOffice) run a cell that starts with one of these as a formula: an exported CSV
# cell that does is prefixed with an apostrophe, which the importer removes again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_ESCAPED_STARTS = (*FORMULA_STARTS, "'")
_DAY_MONTH_YEAR = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")

PRODUCT_COLUMNS_EXCLUDED = ("entity_id", "images", "status")


class ProductRowBase(BaseSchema):
    """Base of the product row schema (fields are copied from ``ProductCreate``)."""


# The product fields keep ProductCreate's own FieldInfo (constraints, defaults), so no rule is repeated.
ProductRow: type[BaseSchema] = create_model(
    "ProductRow",
    __base__=ProductRowBase,
    __doc__="One row of a products file: ProductCreate with the entity named by its tax code.",
    entity_tax_code=(TaxCode, ...),
    **typing.cast(
        dict[str, Any],
        {
            name: (field.annotation, field)
            for name, field in ProductCreate.model_fields.items()
            if name not in PRODUCT_COLUMNS_EXCLUDED
        },
    ),
)


def _base_type(annotation: Any) -> Any:
    """The type under Optional[...] and Annotated[...]."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _base_type(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return _base_type(next(arg for arg in get_args(annotation) if arg is not type(None)))
    return annotation


def _inner_field_info(annotation: Any) -> Any:
    """The FieldInfo of an Annotated[...] alias used under Optional (``Phone | None``), if any."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return _inner_field_info(next(arg for arg in get_args(annotation) if arg is not type(None)))
    if origin is Annotated:
        return next((extra for extra in get_args(annotation)[1:] if hasattr(extra, "metadata")), None)
    return None


def _has_pattern(field: FieldInfo) -> bool:
    inner = _inner_field_info(field.annotation)
    metadata = [*field.metadata, *(inner.metadata if inner is not None else ())]
    return any(getattr(item, "pattern", None) for item in metadata)


def _column_kind(field: FieldInfo) -> ColumnKind:
    annotation = _base_type(field.annotation)
    if get_origin(annotation) is list:
        return "list"
    if annotation is int:
        return "int"
    if annotation is Decimal:
        return "decimal"
    if annotation is date:
        return "date"
    # Codes, enumerations and pattern-checked values (phones, e-mails) are never free text.
    return "code" if _has_pattern(field) or get_origin(annotation) is Literal else "text"


@dataclass(frozen=True)
class FileLayout:
    """The columns of one kind of file, their kinds, and the schema a row must satisfy."""

    kind: ImportKind
    schema: type[BaseSchema]
    columns: tuple[str, ...]
    required: frozenset[str]
    kinds: dict[str, ColumnKind]

    @classmethod
    def of(cls, kind: ImportKind, schema: type[BaseSchema]) -> FileLayout:
        """The layout whose columns are the schema's fields, in declaration order."""
        fields = schema.model_fields
        return cls(
            kind=kind,
            schema=schema,
            columns=tuple(fields),
            required=frozenset(name for name, field in fields.items() if field.is_required()),
            kinds={name: _column_kind(field) for name, field in fields.items()},
        )


ENTITIES = FileLayout.of("entities", EntityCreate)
PRODUCTS = FileLayout.of("products", ProductRow)
LAYOUTS: dict[ImportKind, FileLayout] = {"entities": ENTITIES, "products": PRODUCTS}


def normalise_header(cell: object) -> str:
    """A header cell as a column name: trimmed and lower-cased (``Tax_Code`` names ``tax_code``)."""
    return "" if cell is None else str(cell).strip().lower()


def _number_text(value: int | float | Decimal) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _text(value: object) -> object:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        return _number_text(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _date(value: object) -> object:
    if isinstance(value, datetime):
        return value.date() if value.time() == datetime.min.time() else value
    if isinstance(value, str):
        # Vietnamese spreadsheets write dates day first (17/05/2020).
        match = _DAY_MONTH_YEAR.match(value)
        if match:
            day, month, year = (int(part) for part in match.groups())
            try:
                return date(year, month, day)
            except ValueError:
                return value
    return value


def _decimal(value: object) -> object:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str) and "," in value and "." not in value:
        # A decimal comma (12,5 ha), as a Vietnamese-locale spreadsheet writes it.
        try:
            return Decimal(value.replace(",", "."))
        except InvalidOperation:
            return value
    return value


def _list(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in re.split(r"[;\n]", value) if item.strip()]
    return [_text(value)]


def unescape_csv_text(value: str) -> str:
    """Undo the apostrophe an export put before a cell that would otherwise run as a formula."""
    if len(value) > 1 and value[0] == "'" and value[1] in _ESCAPED_STARTS:
        return value[1:]
    return value


def cell_to_input(kind: ColumnKind, value: object, *, from_csv: bool) -> object | None:
    """A cell as schema input; None for an empty cell (the field then takes its default)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
        if from_csv:
            value = unescape_csv_text(value)
    match kind:
        case "text" | "code":
            return _text(value)
        case "int":
            return value
        case "decimal":
            return _decimal(value)
        case "date":
            return _date(value)
        case "list":
            return _list(value) or None
    return value  # pragma: no cover - every kind is matched above


def value_to_cell(kind: ColumnKind, value: object) -> str | int | Decimal | date | None:
    """A stored value as a spreadsheet cell (lists joined, everything else as it is)."""
    if value is None:
        return None
    if kind == "list":
        return LIST_SEPARATOR.join(str(item) for item in value)  # type: ignore[attr-defined]
    if isinstance(value, (str, int, Decimal, date)):
        return value
    return str(value)


def value_to_csv(kind: ColumnKind, value: object) -> str:
    """A stored value as CSV text, escaped where a spreadsheet would run it as a formula."""
    cell = value_to_cell(kind, value)
    if cell is None:
        return ""
    text = cell.isoformat() if isinstance(cell, date) else str(cell)
    # Every column: a code, an email or a number a spreadsheet would read as a formula is text here.
    if text.startswith(_ESCAPED_STARTS):
        return "'" + text
    return text
