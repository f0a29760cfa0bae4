"""Every SQL statement of the verification path and of a scan's page.

The hot path (asyncpg only, one statement per step of a batch of scans) reads the facts of all the stamps a batch of concurrent scans names in one statement, and
writes the batch's scan rows and per-stamp summaries in one more (PLATFORM-NOTES: round trips, not
fsync, are the cost). Each runs outside a transaction, so the write is committed when it returns. A scan's
page (``ScanRepository``) reads that scan and adds a consented location within the request's transaction.
"""

from __future__ import annotations

import secrets
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from operator import attrgetter
from typing import Any

import asyncpg
import orjson
from sqlalchemy import Date, Select, String, Table, any_, bindparam, column, func, select, table, text, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

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


def _facts_query() -> Select[Any]:
    """The stamp, its batch, product, producer, current certificate, scan summary and risk, for many serials."""
    current = current_certificate(BATCHES.c.product_id, bindparam("today", type_=Date))
    return (
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


# The hot path runs it through asyncpg; a scan's page through the request's session.
FACTS_QUERY = _facts_query()
FACTS = AsyncpgStatement.compile(FACTS_QUERY)

# A batch of scans and the stamps' summaries, in one statement. Each set travels as one JSON document:
# asyncpg encodes 24 typed arrays element by element, which cost the event loop about twice the CPU of
# building and sending the documents (docs/PERFORMANCE.md). The summaries name each serial once (ON CONFLICT
# may not touch a row twice), in serial order so that concurrent batches lock rows in the same order.
_SCANS = """ROWS FROM (json_to_recordset($1::json) AS (
        scanned_at timestamptz, serial varchar, gtin varchar, lot varchar, path varchar, batch_id uuid,
        verdict varchar, rules varchar, risk smallint, channel varchar, ip_hash bytea, device_hash bytea,
        user_agent varchar, latitude float8, longitude float8, accuracy_m real, province_code varchar,
        reasons varchar, first_scan bool
    )) WITH ORDINALITY AS s(scanned_at, serial, gtin, lot, path, batch_id, verdict, rules, risk, channel,
                            ip_hash, device_hash, user_agent, latitude, longitude, accuracy_m, province_code,
                            reasons, first_scan, n)"""
_INSERTED = """scanned_at, serial, gtin, lot, path, batch_id, verdict, rules, risk, channel, ip_hash, device_hash,
        user_agent, latitude, longitude, accuracy_m, province_code, reasons, first_scan"""
_VALUES = """s.scanned_at, s.serial, s.gtin, s.lot, s.path, s.batch_id, s.verdict,
           string_to_array(s.rules, ','), s.risk, s.channel, s.ip_hash, s.device_hash, s.user_agent,
           s.latitude, s.longitude, s.accuracy_m, s.province_code, string_to_array(s.reasons, ','),
           s.first_scan"""
_SUMMARIES = """seen AS (
    INSERT INTO stamps.stamp_scan AS summary (
        serial, scan_count, first_scanned_at, first_scan_province, last_scanned_at
    )
    SELECT * FROM json_to_recordset($2::json) AS t(
        serial varchar, scan_count int, first_scanned_at timestamptz, first_scan_province varchar,
        last_scanned_at timestamptz
    )
    ON CONFLICT (serial) DO UPDATE SET
        scan_count = summary.scan_count + excluded.scan_count,
        last_scanned_at = greatest(summary.last_scanned_at, excluded.last_scanned_at)
)"""
RECORD_SCANS = f"""
WITH scans AS (
    INSERT INTO stamps.scan ({_INSERTED})
    SELECT {_VALUES}
    FROM {_SCANS}
), {_SUMMARIES}
SELECT NULL::bigint[]
"""
# The same, answering the scans' ids in the batch's order, for a batch with a browser's scan (its page is
# named by its id). The ids are drawn after the ordering, so they rise in the batch's order as the counts
# it showed did. Numbering costs a few per cent of the statement at large batches, so apps' batches skip it.
RECORD_NUMBERED_SCANS = f"""
WITH numbered AS MATERIALIZED (
    SELECT nextval('stamps.scan_id_seq') AS id, s.* FROM {_SCANS}
    ORDER BY s.n
), scans AS (
    INSERT INTO stamps.scan (id, {_INSERTED})
    SELECT s.id, {_VALUES}
    FROM numbered s
), {_SUMMARIES}
SELECT array_agg(id ORDER BY n) FROM numbered
"""


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
    reasons: str | None  # comma-separated, as ``rules``; for a browser's scan only (its page shows them)
    # The serial's first verification ever (R11 counts these): only a known serial's counted scan can be.
    first_scan: bool = False


@dataclass(slots=True)
class SummaryRow:
    """What a batch adds to one stamp's scan summary."""

    serial: str
    count: int
    first_at: datetime
    first_province: str | None
    last_at: datetime


def _facts(row: asyncpg.Record | Mapping[str, Any]) -> StampFacts:
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
    connection: asyncpg.Connection,
    scans: Sequence[ScanRow],
    summaries: Iterable[SummaryRow],
    *,
    numbered: bool,
) -> list[int] | None:
    """Log ``scans`` and add ``summaries`` to the stamps' scan summaries, in one committed statement; with
    ``numbered``, the scans' ids in their order."""
    ids: list[int] | None = await connection.fetchval(
        RECORD_NUMBERED_SCANS if numbered else RECORD_SCANS,
        _document([_scan_document(scan) for scan in scans]),
        _document([_summary_document(summary) for summary in sorted(summaries, key=attrgetter("serial"))]),
    )
    return ids


def _document(rows: list[dict[str, Any]]) -> str:
    # A naive time is UTC, as asyncpg took it for a timestamptz.
    return orjson.dumps(rows, option=orjson.OPT_NAIVE_UTC).decode()


def _text(value: Any) -> str | None:
    """A UUID as text: asyncpg's own UUID type (the facts' batch ids) is not one orjson knows."""
    return None if value is None else str(value)


def _hex(value: bytes | None) -> str | None:
    """bytea's text form, which json_to_recordset reads."""
    return None if value is None else "\\x" + value.hex()


def _scan_document(scan: ScanRow) -> dict[str, Any]:
    # orjson writes aware datetimes with their offset and microseconds, and floats exactly.
    return {
        "scanned_at": scan.scanned_at, "serial": scan.serial, "gtin": scan.gtin, "lot": scan.lot,
        "path": scan.path, "batch_id": _text(scan.batch_id), "verdict": scan.verdict, "rules": scan.rules,
        "risk": scan.risk, "channel": scan.channel, "ip_hash": _hex(scan.ip_hash),
        "device_hash": _hex(scan.device_hash), "user_agent": scan.user_agent, "latitude": scan.latitude,
        "longitude": scan.longitude, "accuracy_m": scan.accuracy_m, "province_code": scan.province_code,
        "reasons": scan.reasons, "first_scan": scan.first_scan,
    }  # fmt: skip


def _summary_document(summary: SummaryRow) -> dict[str, Any]:
    return {
        "serial": summary.serial, "scan_count": summary.count, "first_scanned_at": summary.first_at,
        "first_scan_province": summary.first_province, "last_scanned_at": summary.last_at,
    }  # fmt: skip


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


# A scan's page: the scan as logged, read by its key (the partition's time and the id), and the consented
# location its page adds.


@dataclass(frozen=True, slots=True)
class LoggedScan:
    """One scan as the log holds it, for the page of that scan."""

    id: int
    scanned_at: datetime
    serial: str | None
    gtin: str | None
    lot: str | None
    batch_id: Any
    verdict: str
    rules: tuple[str, ...]
    reasons: tuple[str, ...]
    risk: int
    located: bool
    province_code: str | None


class ScanRepository:
    """The scan log's statements of a scan's page, in the request's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def scan(self, scan_id: int, scanned_at: datetime) -> LoggedScan | None:
        """The scan logged at ``scanned_at`` with ``scan_id`` (one partition, one index probe)."""
        row = (
            await self.session.execute(
                text("""
                    SELECT id, scanned_at, serial, gtin, lot, batch_id, verdict, rules, reasons, risk,
                           latitude IS NOT NULL AS located, province_code
                    FROM stamps.scan WHERE scanned_at = :at AND id = :id"""),
                {"at": scanned_at, "id": scan_id},
            )
        ).one_or_none()
        if row is None:
            return None
        return LoggedScan(
            row.id, row.scanned_at, row.serial, row.gtin, row.lot, row.batch_id, row.verdict,
            tuple(row.rules or ()), tuple(row.reasons or ()), row.risk, row.located, row.province_code,
        )  # fmt: skip

    async def facts(self, serial: str, today: date) -> StampFacts | None:
        """What is known of ``serial`` now (None: no such stamp)."""
        row = (await self.session.execute(FACTS_QUERY, {"serials": [serial], "today": today})).one_or_none()
        return _facts(row._mapping) if row is not None else None

    async def count_until(self, serial: str, scan_id: int) -> int:
        """How often ``serial`` had been verified once the scan ``scan_id`` was (the scans its summary counts)."""
        counted: int = await self.session.scalar(
            text("""
                SELECT count(*) FROM stamps.scan
                WHERE serial = :serial AND id <= :id AND batch_id IS NOT NULL AND verdict <> 'unknown'"""),
            {"serial": serial, "id": scan_id},
        )
        return counted

    async def locate(
        self, scan_id: int, scanned_at: datetime, *, latitude: float, longitude: float, accuracy_m: float | None,
        province_code: str | None, at: datetime,
    ) -> bool:  # fmt: skip
        """Store the consented location on a scan that has none yet; False if it has one already."""
        located = await self.session.scalar(
            text("""
                UPDATE stamps.scan SET latitude = :lat, longitude = :lon, accuracy_m = :acc,
                       province_code = coalesce(:province, province_code), located_at = :now
                WHERE scanned_at = :at AND id = :id AND latitude IS NULL
                RETURNING id"""),
            {"lat": latitude, "lon": longitude, "acc": accuracy_m, "province": province_code, "now": at,
             "at": scanned_at, "id": scan_id},
        )  # fmt: skip
        return located is not None
