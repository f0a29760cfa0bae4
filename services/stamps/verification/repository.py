"""Every SQL statement of the verification path: asyncpg only, one statement per step of a batch of scans.

The hot path reads the facts of all the stamps a batch of concurrent scans names in one statement, and
writes the batch's scan rows and per-stamp summaries in one more (PLATFORM-NOTES: round trips, not
fsync, are the cost). Each runs outside a transaction, so the write is committed when it returns.
"""

from __future__ import annotations

import secrets
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg
from sqlalchemy import Date, String, Table, any_, bindparam, column, func, select, table, true
from sqlalchemy.dialects.postgresql import ARRAY

from services.stamps.batches.models import StampBatch
from services.stamps.lifecycle.models import Stamp
from services.stamps.snapshot.repository import (
    ENTITIES,
    PRODUCTS,
    current_certificate,
    newest_entity_name,
)
from services.stamps.verification.models import StampScan
from services.stamps.verification.verdicts import Certificate, StampFacts
from shared.db import AsyncpgStatement

STAMPS = typing.cast(Table, Stamp.__table__)
BATCHES = typing.cast(Table, StampBatch.__table__)
SUMMARIES = typing.cast(Table, StampScan.__table__)
# Written by the anomaly detector (anomalies package); read here, so named without a second model.
RISKS = table("stamp_risk", column("serial"), column("risk_score"), column("rules"), schema="stamps")
SALT_BYTES = 32


def _facts_statement() -> AsyncpgStatement:
    """The stamp, its batch, product, producer, current certificate, scan summary and risk, for many serials."""
    current = current_certificate(BATCHES.c.product_id, bindparam("today", type_=Date))
    query = (
        select(
            STAMPS.c.serial,
            STAMPS.c.batch_id,
            BATCHES.c.gtin,
            STAMPS.c.state,
            func.coalesce(STAMPS.c.lot, BATCHES.c.lot).label("lot"),
            STAMPS.c.production_date,
            STAMPS.c.expiry_date,
            STAMPS.c.activated_at,
            BATCHES.c.product_id,
            BATCHES.c.entity_id,
            PRODUCTS.c.product_code,
            PRODUCTS.c.name,
            PRODUCTS.c.name_en,
            PRODUCTS.c.images[1].label("image"),
            newest_entity_name().label("producer_name"),
            PRODUCTS.c.commune_name,
            func.coalesce(PRODUCTS.c.province_code, BATCHES.c.province_code).label("province_code"),
            PRODUCTS.c.province_name,
            current,
            func.coalesce(SUMMARIES.c.scan_count, 0).label("scan_count"),
            SUMMARIES.c.first_scanned_at,
            SUMMARIES.c.first_scan_province,
            func.coalesce(RISKS.c.risk_score, 0).label("risk_score"),
            RISKS.c.rules.label("risk_rules"),
        )
        .select_from(STAMPS)
        .join(BATCHES, BATCHES.c.id == STAMPS.c.batch_id)
        .outerjoin(PRODUCTS, PRODUCTS.c.id == BATCHES.c.product_id)
        .outerjoin(ENTITIES, ENTITIES.c.id == BATCHES.c.entity_id)
        .outerjoin(current, true())
        .outerjoin(SUMMARIES, SUMMARIES.c.serial == STAMPS.c.serial)
        .outerjoin(RISKS, RISKS.c.serial == STAMPS.c.serial)
        .where(STAMPS.c.serial == any_(bindparam("serials", type_=ARRAY(String))))
    )
    return AsyncpgStatement.compile(query)


FACTS = _facts_statement()

# A batch of scans and the stamps' summaries, in one statement. The summary arrays name each serial
# once (ON CONFLICT may not touch a row twice), in serial order so that concurrent batches lock rows in
# the same order.
RECORD_SCANS = """
WITH scans AS (
    INSERT INTO stamps.scan (
        scanned_at, serial, gtin, lot, path, batch_id, verdict, rules, risk, channel, ip_hash, device_hash,
        user_agent, latitude, longitude, accuracy_m, province_code
    )
    SELECT s.scanned_at, s.serial, s.gtin, s.lot, s.path, s.batch_id, s.verdict,
           string_to_array(s.rules, ','), s.risk, s.channel, s.ip_hash, s.device_hash, s.user_agent,
           s.latitude, s.longitude, s.accuracy_m, s.province_code
    FROM unnest(
        $1::timestamptz[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], $6::uuid[],
        $7::varchar[], $8::varchar[], $9::smallint[], $10::varchar[], $11::bytea[], $12::bytea[],
        $13::varchar[], $14::float8[], $15::float8[], $16::real[], $17::varchar[]
    ) AS s(scanned_at, serial, gtin, lot, path, batch_id, verdict, rules, risk, channel, ip_hash, device_hash,
           user_agent, latitude, longitude, accuracy_m, province_code)
), seen AS (
    INSERT INTO stamps.stamp_scan AS summary (
        serial, scan_count, first_scanned_at, first_scan_province, last_scanned_at
    )
    SELECT * FROM unnest($18::varchar[], $19::int[], $20::timestamptz[], $21::varchar[], $22::timestamptz[])
    ON CONFLICT (serial) DO UPDATE SET
        scan_count = summary.scan_count + excluded.scan_count,
        last_scanned_at = greatest(summary.last_scanned_at, excluded.last_scanned_at)
)
SELECT 1
"""

SCAN_COLUMNS = (
    "scanned_at", "serial", "gtin", "lot", "path", "batch_id", "verdict", "rules", "risk", "channel",
    "ip_hash", "device_hash", "user_agent", "latitude", "longitude", "accuracy_m", "province_code",
)  # fmt: skip


@dataclass(slots=True)
class ScanRow:
    """One scan as it is logged."""

    scanned_at: datetime
    serial: str | None
    gtin: str | None
    lot: str | None
    path: str | None
    batch_id: Any
    verdict: str
    rules: str  # comma-separated rule ids: one text array element per scan keeps unnest simple
    risk: int
    channel: str
    ip_hash: bytes | None
    device_hash: bytes | None
    user_agent: str | None
    latitude: float | None
    longitude: float | None
    accuracy_m: float | None
    province_code: str | None


@dataclass(slots=True)
class SummaryRow:
    """What a batch adds to one stamp's scan summary."""

    serial: str
    count: int
    first_at: datetime
    first_province: str | None
    last_at: datetime


def _facts(row: asyncpg.Record) -> StampFacts:
    certificate = None
    if row["c_id"] is not None:
        certificate = Certificate(
            row["c_number"], row["c_star"], row["c_level"], row["c_status"], row["c_issued_on"],
            row["c_expires_on"], row["c_issuing_authority"], row["c_revocation_ground"],
        )  # fmt: skip
    return StampFacts(
        row["serial"], row["batch_id"], row["gtin"], row["state"], row["lot"], row["production_date"],
        row["expiry_date"], row["activated_at"], row["product_id"], row["entity_id"], row["product_code"],
        row["name"], row["name_en"], row["image"], row["producer_name"], row["commune_name"],
        row["province_code"], row["province_name"], certificate, row["scan_count"], row["first_scanned_at"],
        row["first_scan_province"], row["risk_score"], tuple(row["risk_rules"] or ()),
    )  # fmt: skip


async def facts_of(
    connection: asyncpg.Connection, serials: Sequence[str], today: date
) -> dict[str, StampFacts]:
    """What is known of each of ``serials`` that exists, by serial."""
    rows = await connection.fetch(FACTS.sql, *FACTS.arguments({"serials": list(serials), "today": today}))
    return {row["serial"]: _facts(row) for row in rows}


async def record_scans(
    connection: asyncpg.Connection, scans: Sequence[ScanRow], summaries: Iterable[SummaryRow]
) -> None:
    """Log ``scans`` and add ``summaries`` to the stamps' scan summaries, in one committed statement."""
    columns = [[getattr(scan, name) for scan in scans] for name in SCAN_COLUMNS]
    ordered = sorted(summaries, key=lambda summary: summary.serial)
    await connection.execute(
        RECORD_SCANS,
        *columns,
        [summary.serial for summary in ordered],
        [summary.count for summary in ordered],
        [summary.first_at for summary in ordered],
        [summary.first_province for summary in ordered],
        [summary.last_at for summary in ordered],
    )


async def salt_of(connection: asyncpg.Connection, day: date) -> bytes:
    """The salt of ``day``'s IP hashes, drawn from the CSPRNG by whichever process asks first."""
    salt: bytes | None = await connection.fetchval(
        "INSERT INTO stamps.scan_salt (day, salt) VALUES ($1, $2) ON CONFLICT (day) DO NOTHING RETURNING salt",
        day,
        secrets.token_bytes(SALT_BYTES),
    )
    if salt is None:
        salt = await connection.fetchval("SELECT salt FROM stamps.scan_salt WHERE day = $1", day)
    if salt is None:
        raise RuntimeError(f"no salt for {day}: it was dropped between two statements")
    return salt


async def drop_salts_before(connection: asyncpg.Connection, day: date) -> int:
    """Forget the salts of days before ``day``: their hashes can no longer be tied to an address."""
    status: str = await connection.execute("DELETE FROM stamps.scan_salt WHERE day < $1", day)
    return int(status.split()[-1])


async def ensure_partitions(connection: asyncpg.Connection, first_month: date, months: int) -> int:
    """Create the scan log's monthly partitions from ``first_month`` on that are missing; how many were."""
    created: int = await connection.fetchval(
        "SELECT stamps.ensure_scan_partitions($1, $2)", first_month, months
    )
    return created
