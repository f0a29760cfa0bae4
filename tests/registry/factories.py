"""Test data for the registry: units, entities and products with unique keys (the database is shared)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import asyncpg

from shared.db import asyncpg_dsn
from shared.text import fold
from tests.support.database import TestDatabase


@dataclass(frozen=True)
class Unit:
    """A province and one of its communes, valid today."""

    province_code: str
    commune_code: str
    commune_id: int


def unique_tax_code() -> str:
    """A well-formed 10-digit tax code (MST) unlikely to collide within a run."""
    return "0" + "".join(random.choices("0123456789", k=9))


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
