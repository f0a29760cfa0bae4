"""Test data for the registry: units, entities and products with unique keys (the database is shared)."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

import asyncpg

from services.registry.admin_units.service import REFORM_DATE
from shared.db import asyncpg_dsn
from shared.text import fold
from tests.support.database import TestDatabase


@dataclass(frozen=True)
class Unit:
    """A province and one of its communes, valid today."""

    province_code: str
    commune_code: str
    commune_id: int


# Consecutive from a random start: a file of thousands of random codes would repeat one now and then.
_TAX_CODES = itertools.count(random.randrange(10**9))


def unique_tax_code() -> str:
    """A well-formed 10-digit tax code (MST), never the same twice in a run (nor, likely, across runs)."""
    return f"0{next(_TAX_CODES) % 10**9:09d}"


async def create_unit(database: TestDatabase, commune_name: str = "Xã Thử Nghiệm") -> Unit:
    """Insert a fresh province (2-digit code 9x) and a commune under it, as the administrator."""
    connection = await asyncpg.connect(asyncpg_dsn(database.admin_url))
    try:
        while True:
            province = str(random.randint(90, 99))
            commune = f"9{random.randint(0, 9999):04d}"
            taken = await connection.fetchval(
                "SELECT count(*) FROM registry.admin_unit WHERE code = ANY($1::text[])", [commune]
            )
            if not taken:
                break
        await connection.execute(
            """INSERT INTO registry.admin_unit (code, name, name_folded, level, unit_type, province_code)
               VALUES ($1, 'Tỉnh Thử', 'tinh thu', 'province', 'tỉnh', $1) ON CONFLICT DO NOTHING""",
            province,
        )
        commune_id = await connection.fetchval(
            """INSERT INTO registry.admin_unit (code, name, name_folded, level, unit_type, parent_code, province_code)
               VALUES ($1, $2, $3, 'commune', 'xã', $4, $4) RETURNING id""",
            commune, commune_name, fold(commune_name), province,
        )  # fmt: skip
    finally:
        await connection.close()
    return Unit(province, commune, commune_id)


@dataclass(frozen=True)
class ReformedCommune:
    """A province with one commune that the 2025 reform replaced by another."""

    province_code: str
    old: Unit
    new: Unit


async def create_reformed_commune(database: TestDatabase) -> ReformedCommune:
    """A fresh province (9x), a commune valid until the reform, and its successor valid from it."""
    connection = await asyncpg.connect(asyncpg_dsn(database.admin_url))
    try:
        while True:
            province = str(random.randint(90, 99))
            old_code, new_code = (f"9{random.randint(0, 9999):04d}" for _ in range(2))
            taken = await connection.fetchval(
                "SELECT count(*) FROM registry.admin_unit WHERE code = ANY($1::text[])", [old_code, new_code]
            )
            if not taken and old_code != new_code:
                break
        await connection.execute(
            """INSERT INTO registry.admin_unit (code, name, name_folded, level, unit_type, province_code)
               VALUES ($1, 'Tỉnh Thử', 'tinh thu', 'province', 'tỉnh', $1) ON CONFLICT DO NOTHING""",
            province,
        )
        insert = """INSERT INTO registry.admin_unit
                        (code, name, name_folded, level, unit_type, parent_code, province_code, valid_from, valid_to)
                    VALUES ($1, $2, $3, 'commune', 'xã', $4, $4, $5, $6) RETURNING id"""
        old_id = await connection.fetchval(
            insert, old_code, "Xã Cũ", fold("Xã Cũ"), province, None, REFORM_DATE
        )
        new_id = await connection.fetchval(
            insert, new_code, "Xã Mới", fold("Xã Mới"), province, REFORM_DATE, None
        )
        await connection.execute(
            "INSERT INTO registry.admin_unit_succession (predecessor_id, successor_id, partial) VALUES ($1, $2, false)",
            old_id, new_id,
        )  # fmt: skip
    finally:
        await connection.close()
    return ReformedCommune(province, Unit(province, old_code, old_id), Unit(province, new_code, new_id))
