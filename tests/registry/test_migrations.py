"""Registry migrations that move data: run on a database of their own, from the revision before."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date

import asyncpg
import pytest
from alembic import command

from shared import migrate
from shared.db import asyncpg_dsn
from shared.topology import REGISTRY
from tests.conftest import Run
from tests.support.migrations import schema_at


@pytest.fixture
async def registry_at_0007(pg_server: str, run: Run) -> AsyncIterator[str]:
    """The registry's schema at 0007 in a database of its own."""
    async with schema_at(pg_server, run.throwaway_name("registry_0007"), REGISTRY, "0007") as admin_url:
        yield admin_url


@pytest.fixture
async def registry_at_0008(pg_server: str, run: Run) -> AsyncIterator[str]:
    """The registry's schema at 0008 in a database of its own."""
    async with schema_at(pg_server, run.throwaway_name("registry_0008"), REGISTRY, "0008") as admin_url:
        yield admin_url


ENTITY = """
    INSERT INTO registry.admin_unit (code, name, name_folded, level, unit_type, province_code)
    VALUES ('22', 'Quảng Ninh', 'quang ninh', 'province', 'tỉnh', '22');
    INSERT INTO registry.admin_unit (code, name, name_folded, level, unit_type, parent_code, province_code)
    VALUES ('06979', 'Kỳ Thượng', 'ky thuong', 'commune', 'xã', '22', '22');
    INSERT INTO registry.entity (id, entity_type, legal_name, name_folded, tax_code, representative_name,
                                 admin_unit_id, commune_code, province_code)
    SELECT '00000000-0000-0000-0000-000000000001', 'enterprise', 'Công ty CP Đạp Thanh', 'cong ty cp dap thanh',
           '5700000001', 'Nguyễn Văn A', id, '06979', '22'
    FROM registry.admin_unit WHERE code = '06979';
"""


async def test_0008_gives_earlier_certificates_an_authority_and_a_record(registry_at_0007: str) -> None:
    admin_url = registry_at_0007
    connection = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        await connection.execute(ENTITY)
        products = {
            "province": (4, "province", "2024-02-05", "active"),
            "ministry_then": (5, "central", "2025-01-17", "active"),
            "ministry_now": (5, "central", "2025-06-01", "expired"),
            "two_stars": (2, "province", "2024-02-05", "active"),
        }
        for index, (key, (star, level, issued_on, status)) in enumerate(products.items()):
            await connection.execute(
                """
                INSERT INTO registry.product (id, entity_id, product_code, name, name_folded, classification, product_set,
                    product_group, sector, images, status, commune_code, province_code, ocop_star, certificate_number,
                    certificate_issued_on, certificate_expires_on, certificate_status, certificate_level)
                VALUES ($1, '00000000-0000-0000-0000-000000000001', $2, $3, $3, '148', 18, 'herbal', 'x', '[]',
                        'certified', '06979', '22', $4, 'SO-1', $5::date, $5::date + interval '3 years', $6, $7)
                """,
                uuid.UUID(int=index + 10), f"22-06979-{index:03d}-2024", key, star,
                date.fromisoformat(issued_on), status, level,
            )  # fmt: skip
        await asyncio.to_thread(migrate.upgrade, REGISTRY, admin_url)
        authorities = dict(await connection.fetch("SELECT name, certificate_authority FROM registry.product"))
        records = await connection.fetch(
            "SELECT p.name, c.issuing_authority, c.certificate_number, c.ocop_star, c.level, c.status, c.expires_on"
            " FROM registry.certificate c JOIN registry.product p ON p.id = c.product_id ORDER BY p.name"
        )
    finally:
        await connection.close()
    assert authorities == {
        "province": "Ủy ban nhân dân tỉnh Quảng Ninh",
        "ministry_then": "Bộ Nông nghiệp và Phát triển nông thôn",
        "ministry_now": "Bộ Nông nghiệp và Môi trường",
        "two_stars": "Ủy ban nhân dân tỉnh Quảng Ninh",
    }
    # Every 3–5★ certificate gets its record; a number is unique per authority, so the second 'SO-1' of the
    # province (a 2★ that was never a certificate) is not recorded.
    assert [(r["name"], r["issuing_authority"], r["ocop_star"], r["status"]) for r in records] == [
        ("ministry_now", "Bộ Nông nghiệp và Môi trường", 5, "expired"),
        ("ministry_then", "Bộ Nông nghiệp và Phát triển nông thôn", 5, "active"),
        ("province", "Ủy ban nhân dân tỉnh Quảng Ninh", 4, "active"),
    ]


async def test_0009_gives_each_product_its_own_versions_group_and_sector(registry_at_0008: str) -> None:
    admin_url = registry_at_0008
    # What earlier revisions stored: 148's groups for 26/2026 products, a 26/2026 sub-group as a 148
    # product's sector, the sector's name as a 1048 product's.
    before = {
        "tea 148": ("148", 11, "food", "tea"),
        "garment 26/2026": ("26/2026", 22, "handicrafts", "textiles"),
        "squid cake 26/2026": ("26/2026", 8, "food", "processed"),
        "tea 1048": ("1048", 11, "beverages", "Đồ uống"),
    }
    query = "SELECT name, classification, product_set, product_group, sector FROM registry.product"
    connection = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        await connection.execute(ENTITY)
        for index, (name, values) in enumerate(before.items()):
            await connection.execute(
                """
                INSERT INTO registry.product (id, entity_id, product_code, name, name_folded, classification,
                    product_set, product_group, sector, images, status, commune_code, province_code)
                VALUES ($1, '00000000-0000-0000-0000-000000000001', $2, $3, $3, $4, $5, $6, $7, '[]', 'idea',
                        '06979', '22')
                """,
                uuid.UUID(int=index + 10), f"22-06979-{index:04d}-2025", name, *values,
            )  # fmt: skip
        await asyncio.to_thread(migrate.upgrade, REGISTRY, admin_url, "0009")
        after = {row["name"]: tuple(row)[1:] for row in await connection.fetch(query)}
        config = migrate.alembic_config(REGISTRY, admin_url)
        await asyncio.to_thread(command.downgrade, config, "0008")
        back = {row["name"]: tuple(row)[1:] for row in await connection.fetch(query)}
    finally:
        await connection.close()
    assert after == {
        "tea 148": ("148", 11, "food", "food"),
        "garment 26/2026": ("26/2026", 22, "fabric_garments", "handicrafts"),
        "squid cake 26/2026": ("26/2026", 8, "processed_food", "food"),
        "tea 1048": ("1048", 11, "beverages", "beverages"),
    }
    assert back == before
