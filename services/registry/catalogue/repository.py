"""All SQL of the catalogue: SQLAlchemy Core selects of columns (no ORM objects on this hot path).

Building a SELECT of this size costs more CPU than PostgreSQL spends answering it, so each shape of
query (which filters are present, the sort, first page or not) is built once, with bound parameters,
and reused.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    String,
    Table,
    and_,
    bindparam,
    case,
    func,
    not_,
    or_,
    select,
    tuple_,
)  # fmt: skip
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.admin_units.models import AdminUnit
from services.registry.admin_units.repository import codes_reached_from
from services.registry.catalogue.schemas import CatalogueQuery
from services.registry.entities.models import Entity
from services.registry.products.models import Product

product = cast(Table, Product.__table__)
entity = cast(Table, Entity.__table__)
admin_unit = cast(Table, AdminUnit.__table__)

SORT_KEYS: dict[str, tuple[str, ...]] = {
    "name": ("name_folded", "id"),
    "-star": ("ocop_star", "name_folded", "id"),
    "-issued_on": ("certificate_issued_on", "name_folded", "id"),
    "relevance": ("score", "name_folded", "id"),
}
PRODUCT_COLUMNS = (
    "id", "entity_id", "name", "name_en", "name_folded", "ocop_star", "description", "story", "images",
    "certificate_number", "certificate_issued_on", "certificate_expires_on", "certificate_level", "product_group",
    "product_code", "product_set", "gtin", "commune_code", "province_code",
)  # fmt: skip
# Reading the public catalogue needs no transaction: one statement, one round trip (BEGIN and COMMIT
# would double the cost of a page).
NO_TRANSACTION = {"isolation_level": "AUTOCOMMIT"}


def _text_parameter(name: str) -> Any:
    # A plan made for unknown text cannot tell a rare word from one in a third of the catalogue, and
    # the right plans differ: the search text is written into the statement, so PostgreSQL plans
    # each text for itself (SQLAlchemy quotes it; the statement is still compiled once per shape).
    return bindparam(name, type_=String, literal_execute=True)


def in_catalogue(today: date | ColumnElement[Any]) -> ColumnElement[bool]:
    """The catalogue's definition: certified, with an active certificate that has not run out."""
    return and_(
        product.c.status == "certified",
        product.c.certificate_status == "active",
        product.c.certificate_expires_on >= today,
    )


def is_national() -> ColumnElement[bool]:
    """A 5★ recognised by the central level (the national system's ``is_national``)."""
    return and_(product.c.ocop_star == 5, product.c.certificate_level == "central")


def like_escape(folded: str) -> str:
    """``folded`` with LIKE's wildcards (and the escape character) escaped."""
    return folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def relevance() -> ColumnElement[int]:
    """How well a product matches: its name starts with the query, contains it, or only its producer's does.

    Within each tier a shorter name (closer to the query) ranks first. An integer: cheap to compute for
    every match (pg_trgm's similarity() cost several times more) and exact in a keyset cursor.
    """
    tier = case(
        (product.c.name_folded.like(_text_parameter("q_prefix"), escape="\\"), 3),
        (product.c.name_folded.like(_text_parameter("q_contains"), escape="\\"), 2),
        else_=1,
    )
    return cast(ColumnElement[int], tier * 1000 - func.least(func.length(product.c.name_folded), 999))


# Beyond this many producers named by the text, a page in a key order is found fastest by walking
# that order (one in 25 catalogue products or more match, so 20 turn up within a few hundred rows).
MANY_PRODUCERS = 200


def _producers_named(pattern: Any) -> Any:
    return select(entity.c.id).where(entity.c.name_folded.like(pattern, escape="\\"))


def matches(many_producers: bool) -> ColumnElement[bool]:
    """The product's name or its producer's name contains the folded query.

    The product name is answered by the catalogue's trigram index. A text naming a few producers is
    answered by the entity trigram index, its matches handed as an array to the product's entity_id
    index; one naming many (every "hợp tác xã") as a per-row check, which lets the page be read in its
    key order and stop after ``limit`` rows. Neither forces a scan of the whole catalogue. The columns
    are folded to lower case already, so LIKE does what ILIKE would, for less.
    """
    pattern = _text_parameter("q_contains")
    if many_producers:
        by_producer: ColumnElement[bool] = product.c.entity_id.in_(_producers_named(pattern))
    else:
        by_producer = product.c.entity_id == func.any(func.array(_producers_named(pattern).scalar_subquery()))
    return or_(product.c.name_folded.like(pattern, escape="\\"), by_producer)


@lru_cache(maxsize=1)
def many_producers_statement() -> Select[Any]:
    """Whether more than MANY_PRODUCERS producers' names contain ``q_contains`` (answered by its index)."""
    named = _producers_named(_text_parameter("q_contains")).limit(MANY_PRODUCERS + 1).subquery()
    return select(func.count() > MANY_PRODUCERS).select_from(named)


def _unit_name(code: ColumnElement[str], level: str) -> Any:
    # Codes are reused across reforms: prefer the unit valid now, else the one that ended last.
    return (
        select(admin_unit.c.name)
        .where(admin_unit.c.code == code, admin_unit.c.level == level)
        .order_by(admin_unit.c.valid_to.desc().nulls_first())
        .limit(1)
        .scalar_subquery()
    )


def _public_columns(rows: Any) -> Select[Any]:
    """The public record of each of ``rows`` (the product table or a page of it), with its producer."""
    return select(
        *(rows.c[name] for name in PRODUCT_COLUMNS),
        and_(rows.c.ocop_star == 5, rows.c.certificate_level == "central").label("is_national"),
        _unit_name(rows.c.commune_code, "commune").label("commune_name"),
        _unit_name(rows.c.province_code, "province").label("province_name"),
        entity.c.legal_name, entity.c.representative_name, entity.c.address, entity.c.phone, entity.c.email,
        entity.c.entity_type,
    ).select_from(rows.join(entity, entity.c.id == rows.c.entity_id))  # fmt: skip


@dataclass(frozen=True)
class Shape:
    """What decides the text of a search: the filters present, the sort, whether a page follows another."""

    sort: str
    after: bool
    stars: bool
    min_star: bool
    product_set: bool
    group: bool
    province: bool
    commune: bool
    entity_type: bool
    is_national: bool | None
    q: bool
    many_producers: bool = False

    @classmethod
    def of(cls, query: CatalogueQuery, sort: str, after: bool, *, many_producers: bool = False) -> Shape:
        """The shape of ``query``."""
        return cls(
            sort, after, bool(query.stars), query.min_star is not None, query.product_set is not None,
            query.group is not None, query.province is not None, query.commune is not None,
            query.entity_type is not None, query.is_national, bool(query.q_folded), many_producers,
        )  # fmt: skip


def _filters(shape: Shape) -> list[ColumnElement[bool]]:
    wanted: list[tuple[bool, Any]] = [
        (shape.stars, lambda: product.c.ocop_star.in_(bindparam("stars", expanding=True))),
        (shape.min_star, lambda: product.c.ocop_star >= bindparam("min_star", type_=Integer)),
        (shape.product_set, lambda: product.c.product_set == bindparam("product_set", type_=Integer)),
        (shape.group, lambda: product.c.product_group == bindparam("group", type_=String)),
        (shape.province, lambda: product.c.province_code == bindparam("province", type_=String)),
        (shape.commune, lambda: product.c.commune_code == func.any(
            codes_reached_from(bindparam("commune", type_=String), bindparam("today", type_=Date))
        )),
        (shape.entity_type, lambda: product.c.entity_id.in_(
            select(entity.c.id).where(entity.c.entity_type == bindparam("entity_type", type_=String))
        )),
        (shape.is_national is not None, lambda: is_national() if shape.is_national else not_(is_national())),
        (shape.q, lambda: matches(shape.many_producers)),
    ]  # fmt: skip
    return [build() for present, build in wanted if present]


@lru_cache(maxsize=512)
def search_statement(shape: Shape) -> Select[Any]:
    """The SELECT of one catalogue page of this shape; its parameters are named after the filters.

    The page is chosen from the product table alone, then joined to its producers: the join touches
    ``limit`` entities, whatever the number of matching products.
    """
    score = relevance() if shape.q else None
    first_key = {"-star": product.c.ocop_star, "-issued_on": product.c.certificate_issued_on,
                 "relevance": score}.get(shape.sort)  # fmt: skip
    if shape.sort != "name" and first_key is None:
        raise ValueError(f"cannot sort by {shape.sort!r} without a query text")
    name_id = (product.c.name_folded, product.c.id)
    after_name_id = tuple_(
        bindparam("after_name", type_=String), bindparam("after_id", type_=UUID(as_uuid=True))
    )
    page = select(
        *(product.c[name] for name in PRODUCT_COLUMNS), *([score.label("score")] if score is not None else [])
    )
    page = page.where(in_catalogue(bindparam("today", type_=Date)), *_filters(shape))
    if first_key is None:
        order: list[Any] = [*name_id]
        if shape.after:
            page = page.where(tuple_(*name_id) > after_name_id)
    else:
        order = [first_key.desc(), *name_id]
        if shape.after:
            after_first = bindparam("after_first", type_=first_key.type)
            page = page.where(
                or_(first_key < after_first, and_(first_key == after_first, tuple_(*name_id) > after_name_id))
            )
    rows = page.order_by(*order).limit(bindparam("limit", type_=Integer)).subquery("page")
    statement = _public_columns(rows)
    if score is not None:
        statement = statement.add_columns(rows.c.score)
    keys = [rows.c[key] for key in SORT_KEYS[shape.sort]]
    return statement.order_by(*(key.desc() if first_key is not None and index == 0 else key
                                for index, key in enumerate(keys)))  # fmt: skip


def search_parameters(
    query: CatalogueQuery, *, after: Sequence[Any] | None, limit: int, today: date
) -> dict[str, Any]:
    """The values of a search's bound parameters."""
    filters = {
        "stars": list(query.stars) or None, "min_star": query.min_star, "product_set": query.product_set,
        "group": query.group, "province": query.province, "commune": query.commune,
        "entity_type": query.entity_type,
    }  # fmt: skip
    values: dict[str, Any] = {
        "today": today,
        "limit": limit,
        **{k: v for k, v in filters.items() if v is not None},
    }
    if query.q_folded:
        escaped = like_escape(query.q_folded)
        values |= {"q_prefix": f"{escaped}%", "q_contains": f"%{escaped}%"}
    if after:
        *first, after_name, after_id = after
        values |= {
            "after_name": after_name,
            "after_id": after_id,
            **({"after_first": first[0]} if first else {}),
        }
    return values


@lru_cache(maxsize=1)
def _record_statement() -> Select[Any]:
    return _public_columns(product).where(
        product.c.id == bindparam("id", type_=UUID(as_uuid=True)),
        in_catalogue(bindparam("today", type_=Date)),
    )


class CatalogueRepository:
    """Reads the public catalogue on the request's session (each read a single statement, untransacted)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, product_id: uuid.UUID, today: date) -> RowMapping | None:
        """The catalogue row of one product, if it is in the catalogue."""
        connection = await self.session.connection(execution_options=NO_TRANSACTION)
        result = await connection.execute(_record_statement(), {"id": product_id, "today": today})
        row: RowMapping | None = result.mappings().first()
        return row

    async def search(
        self, query: CatalogueQuery, *, sort: str, after: Sequence[Any] | None, limit: int, today: date
    ) -> list[RowMapping]:
        """A page of catalogue rows in ``sort`` order, starting after the key ``after``."""
        connection = await self.session.connection(execution_options=NO_TRANSACTION)
        parameters = search_parameters(query, after=after, limit=limit, today=today)
        # Relevance scores every match whatever their number; key orders can stop early when many match.
        many = bool(query.q_folded) and sort != "relevance"
        if many:
            many = bool(await connection.scalar(many_producers_statement(), parameters))
        statement = search_statement(Shape.of(query, sort, after is not None, many_producers=many))
        return list((await connection.execute(statement, parameters)).mappings().all())
