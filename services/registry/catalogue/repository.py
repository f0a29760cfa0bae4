"""All SQL of the catalogue: SQLAlchemy Core selects, executed by asyncpg on the read pool.

Public reads need no transaction, no ORM and no per-request session: each read is one statement on the
service's asyncpg pool (shared.db.Database.reads), and PostgreSQL builds each public record's JSON
(``row_to_json``: compact, in the schema's field order, the bytes pydantic would write), so the
registry passes bytes through. Building a SELECT of this size costs more CPU than PostgreSQL spends
answering it, so each shape of query (which filters are present, the sort, first page or not) is built
and compiled once, with bound parameters, and reused.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, cast

import asyncpg
from sqlalchemy import (
    ColumnElement,
    Date,
    FromClause,
    Integer,
    ScalarSelect,
    Select,
    SmallInteger,
    String,
    Table,
    and_,
    bindparam,
    case,
    column,
    false,
    func,
    not_,
    or_,
    select,
    tuple_,
)  # fmt: skip
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from services.registry.admin_units.models import AdminUnit
from services.registry.admin_units.repository import codes_reached_from
from services.registry.catalogue.schemas import CatalogueQuery
from services.registry.entities.models import Entity
from services.registry.products.models import Product
from shared.db import AsyncpgStatement, ReadPool

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


def _text_parameter(name: str) -> Any:
    # A plan made for unknown text cannot tell a rare word from one in a third of the catalogue, and
    # the right plans differ: statements with a search text are prepared afresh for each execution
    # (CatalogueRepository._fetch), so PostgreSQL plans each text for itself.
    return bindparam(name, type_=String)


# An expiring certificate (its 30-day notice) is still valid until its expiry date.
IN_FORCE = ("active", "expiring")


def in_catalogue(today: date | ColumnElement[Any]) -> ColumnElement[bool]:
    """The catalogue's definition: certified, with a certificate in force (active or expiring) not run out."""
    return and_(
        product.c.status == "certified",
        or_(*(product.c.certificate_status == status for status in IN_FORCE)),
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
def many_producers_statement() -> AsyncpgStatement:
    """Whether more than MANY_PRODUCERS producers' names contain ``q_contains`` (answered by its index)."""
    named = _producers_named(_text_parameter("q_contains")).limit(MANY_PRODUCERS + 1).subquery()
    return AsyncpgStatement.compile(select(func.count() > MANY_PRODUCERS).select_from(named))


def _unit_name(code: ColumnElement[str], level: str) -> Any:
    # Codes are reused across reforms: prefer the unit valid now, else the one that ended last.
    return (
        select(admin_unit.c.name)
        .where(admin_unit.c.code == code, admin_unit.c.level == level)
        .order_by(admin_unit.c.valid_to.desc().nulls_first())
        .limit(1)
        .correlate_except(admin_unit)
        .scalar_subquery()
    )


def _json_object(*fields: ColumnElement[Any], of: Sequence[FromClause]) -> ScalarSelect[Any]:
    """A JSON object of ``fields`` (keys: their labels, in order) computed from the row of ``of``."""
    values = select(*fields).correlate(*of).subquery("o")
    return select(func.row_to_json(values.table_valued())).select_from(values).scalar_subquery()


def _image_urls(images: ColumnElement[Any]) -> ColumnElement[Any]:
    """The URLs of a product's images (those that have one), in order, as a JSON array."""
    image = func.jsonb_array_elements(images).table_valued(column("value", JSONB), with_ordinality="n")
    image = image.render_derived(name="image", with_types=False)
    urls = select(image.c.value.op("->>")("url")).where(image.c.value.has_key("url")).order_by(image.c.n)
    return func.array_to_json(func.array(urls.scalar_subquery()))


def _public_json(rows: Any) -> ColumnElement[Any]:
    """The public record (CatalogueProduct) of the current row of ``rows`` with its producer, as JSON."""
    of = (rows, entity)
    return _json_object(
        rows.c.id, rows.c.name, rows.c.ocop_star, rows.c.description, rows.c.story,
        _image_urls(rows.c.images).label("images"),
        rows.c.certificate_number.label("ocop_certificate_number"),
        rows.c.certificate_issued_on.label("issued_on"), rows.c.certificate_expires_on.label("expiry_date"),
        func.coalesce(and_(rows.c.ocop_star == 5, rows.c.certificate_level == "central"), false())
        .label("is_national"),
        rows.c.product_group.label("type"),
        _json_object(
            entity.c.legal_name.label("name"), entity.c.representative_name.label("representative"),
            entity.c.address, entity.c.phone.label("phone_number"), entity.c.email, of=of,
        ).label("manufacturer"),
        rows.c.name_en, rows.c.product_code, rows.c.product_set, rows.c.gtin, entity.c.entity_type,
        _json_object(rows.c.commune_code.label("code"), _unit_name(rows.c.commune_code, "commune").label("name"),
                     of=of).label("commune"),
        _json_object(rows.c.province_code.label("code"), _unit_name(rows.c.province_code, "province").label("name"),
                     of=of).label("province"),
        of=of,
    ).label("record")  # fmt: skip


def public_record(rows: Any) -> ColumnElement[Any]:
    """The public record's JSON of the current row of ``rows``, to be selected from ``rows`` joined to its entity.

    The catalogue feed (services/registry/catalogue_feed) compares it with what it last published.
    """
    return _public_json(rows)


def _public_records(rows: Any) -> Select[Any]:
    """Each of ``rows`` (the product table or a page of it) as its public record's JSON text."""
    return select(_public_json(rows)).select_from(rows.join(entity, entity.c.id == rows.c.entity_id))


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
        (shape.stars, lambda: product.c.ocop_star == func.any(bindparam("stars", type_=ARRAY(SmallInteger)))),
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
def search_statement(shape: Shape) -> AsyncpgStatement:
    """One catalogue page of this shape: each record's JSON, then its sort key; parameters named after the filters.

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
    keys = [rows.c[key] for key in SORT_KEYS[shape.sort]]
    statement = _public_records(rows).add_columns(*keys)
    order_keys = [
        key.desc() if first_key is not None and index == 0 else key for index, key in enumerate(keys)
    ]
    return AsyncpgStatement.compile(statement.order_by(*order_keys))


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
def _record_statement() -> AsyncpgStatement:
    return AsyncpgStatement.compile(
        _public_records(product).where(
            product.c.id == bindparam("id", type_=UUID(as_uuid=True)),
            in_catalogue(bindparam("today", type_=Date)),
        )
    )


@lru_cache(maxsize=2)
def export_statement(first: bool) -> AsyncpgStatement:
    """A page of the whole catalogue in id order (after ``after_id`` unless ``first``): id and record.

    The page is chosen from the product table alone (the catalogue's index in id order), then joined
    to its producers and rendered, as a search is.
    """
    page = select(*(product.c[name] for name in PRODUCT_COLUMNS)).where(
        in_catalogue(bindparam("today", type_=Date))
    )
    if not first:
        page = page.where(product.c.id > bindparam("after_id", type_=UUID(as_uuid=True)))
    rows = page.order_by(product.c.id).limit(bindparam("limit", type_=Integer)).subquery("page")
    return AsyncpgStatement.compile(_public_records(rows).add_columns(rows.c.id).order_by(rows.c.id))


class CatalogueRepository:
    """Reads the public catalogue on the read pool, each read a single statement outside any transaction."""

    def __init__(self, pool: ReadPool) -> None:
        self.pool = pool

    async def get(self, product_id: uuid.UUID, today: date) -> str | None:
        """The public record (JSON) of one product, if it is in the catalogue."""
        statement = _record_statement()
        record: str | None = await self.pool.fetchval(
            statement.sql, *statement.arguments({"id": product_id, "today": today})
        )
        return record

    async def search(
        self, query: CatalogueQuery, *, sort: str, after: Sequence[Any] | None, limit: int, today: date
    ) -> list[asyncpg.Record]:
        """A page of catalogue records (``record``: JSON) in ``sort`` order, each with its sort key."""
        parameters = search_parameters(query, after=after, limit=limit, today=today)
        # Relevance scores every match whatever their number; key orders can stop early when many match.
        check_many = bool(query.q_folded) and sort != "relevance"

        async def read(connection: asyncpg.Connection) -> list[asyncpg.Record]:
            many = check_many and bool(
                (await _fetch(connection, many_producers_statement(), parameters, fresh=True))[0][0]
            )
            statement = search_statement(Shape.of(query, sort, after is not None, many_producers=many))
            return await _fetch(connection, statement, parameters, fresh=planned_per_execution(query))

        return await self.pool.run(read)

    async def export_page(self, *, after: uuid.UUID | None, limit: int, today: date) -> list[asyncpg.Record]:
        """Up to ``limit`` catalogue records (``record``: JSON, ``id``) after product ``after``, in id order."""
        statement = export_statement(after is None)
        parameters: dict[str, Any] = {"today": today, "limit": limit}
        if after is not None:
            parameters["after_id"] = after
        return await self.pool.run(lambda connection: _fetch(connection, statement, parameters, fresh=False))


def planned_per_execution(query: CatalogueQuery) -> bool:
    """Whether a search's plan depends on its values so much that a generic plan would be wrong.

    A search text may name one product or a third of them; a commune's products are found through
    the codes it stands for (a subquery), which a generic plan cannot see and answers by walking the
    whole catalogue (17 ms instead of 1.5 ms p50 in bench.catalogue).
    """
    return bool(query.q_folded) or query.commune is not None


async def _fetch(
    connection: asyncpg.Connection, statement: AsyncpgStatement, parameters: dict[str, Any], *, fresh: bool
) -> list[asyncpg.Record]:
    """Run ``statement``; ``fresh``: prepared for this execution alone, so its plan fits these values.

    A cached prepared statement gets a generic plan after five executions, and a generic plan cannot
    tell a rare search text from one in a third of the catalogue (13–15 ms instead of 5 ms, 187 ms
    for "hop tac xa").
    """
    arguments = statement.arguments(parameters)
    if not fresh:
        return cast(list[asyncpg.Record], await connection.fetch(statement.sql, *arguments))
    prepared = await connection.prepare(statement.sql)
    return cast(list[asyncpg.Record], await prepared.fetch(*arguments))
