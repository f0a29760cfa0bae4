"""Every SQL statement of the anomaly detector and queue: set-based reads of the scan log, one statement a round each.

The scan log (``stamps.scan``) is written by verification, and stamps and batches by their packages;
the detector only reads them. It writes ``anomaly``, ``stamp_risk`` and its own ``anomaly_detector_state``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA, TEXT
from sqlalchemy.dialects.postgresql import insert as upsert

from services.stamps.anomalies.examined import Run, bounds
from services.stamps.anomalies.models import Anomaly, DetectorState, StampRisk
from services.stamps.anomalies.rules import Scan
from services.stamps.anomalies.schemas import AnomalyFilter
from shared.pagination import KeysetPage
from shared.repository import Repository
from shared.security.scopes import Visibility, visible_condition

SCAN_COLUMNS = """s.id, s.scanned_at, s.serial, s.verdict, s.batch_id, s.device_hash, s.ip_hash,
                  s.latitude, s.longitude, s.accuracy_m, s.province_code"""
# In ``Scan``'s field order: rows are turned into scans by position.
SCAN_FIELDS = len(SCAN_COLUMNS.split(","))
# What R11's count per batch and place needs of a first scan (its place: ``Scan.province``).
FIRST_SCAN_COLUMNS = """s.id, s.scanned_at, s.serial, s.verdict, s.batch_id, s.latitude, s.longitude, s.accuracy_m,
                        s.province_code"""


@dataclass(frozen=True, slots=True)
class NewScan:
    """A scan to examine, with its stamp's batch (None for an unknown serial)."""

    scan: Scan
    home_province: str | None
    product_id: uuid.UUID | None
    entity_id: uuid.UUID | None
    batch_quantity: int | None
    # The stamp's GTIN and lot (what EPCIS events name it and its lot by); None for an unknown serial.
    gtin: str | None = None
    lot: str | None = None
    # When the consumer shared the scan's location from its page (None: not from there).
    located_at: datetime | None = None


def _scan(row: Sequence[Any]) -> Scan:
    """A scan from a row whose first columns are ``SCAN_COLUMNS``, taken by position: a round builds thousands,
    and a row's attributes by name cost several times more."""
    return Scan(*row[:SCAN_FIELDS])


def _first_scan(row: Sequence[Any]) -> Scan:
    id_, scanned_at, serial, verdict, batch_id, latitude, longitude, accuracy_m, province_code = row
    return Scan(
        id_, scanned_at, serial, verdict, batch_id, None, None, latitude, longitude, accuracy_m, province_code
    )


class AnomalyRepository(Repository[Anomaly]):
    """Reads the scan log and writes anomalies and stamp risks within the caller's transaction."""

    model = Anomaly

    async def lock_state(self, name: str, *, start: datetime) -> DetectorState:
        """The detector's state, row-locked for the round (a second detector waits); created at ``start``."""
        await self.session.execute(
            upsert(DetectorState).values(name=name, watermark=start, examined={}).on_conflict_do_nothing()
        )
        query = (
            select(DetectorState)
            .where(DetectorState.name == name)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(query)).one()

    async def save_state(self, state: DetectorState) -> None:
        """Write the detector's advanced state (in the round's transaction)."""
        self.session.add(state)
        await self.session.flush()

    async def new_scans(
        self, *, after: datetime, until: datetime, skip: Sequence[Run], relocated: Sequence[int], limit: int
    ) -> list[NewScan]:
        """Scans logged in (after, until] but not in the runs of ``skip``, and scans whose consumer shared their
        location in (after, until] (from the scan's page) but not in ``relocated``, oldest first, with their
        batch."""
        skip_first, skip_last = bounds(skip)
        rows = await self.session.execute(
            text(f"""
                SELECT {SCAN_COLUMNS}, s.located_at, b.province_code AS home, b.product_id, b.entity_id,
                       b.quantity, b.gtin, coalesce(st.lot, b.lot) AS lot
                FROM (
                    SELECT s.* FROM stamps.scan s
                    WHERE s.scanned_at > :after AND s.scanned_at <= :until
                      AND NOT EXISTS (
                          SELECT 1 FROM unnest(CAST(:skip_first AS bigint[]), CAST(:skip_last AS bigint[]))
                              AS examined(first, last)
                          WHERE s.id BETWEEN examined.first AND examined.last
                      )
                    UNION
                    -- Few scans are located from their page: a partial index finds them.
                    SELECT s.* FROM stamps.scan s
                    LEFT JOIN unnest(CAST(:relocated AS bigint[])) AS seen(id) ON seen.id = s.id
                    WHERE s.located_at > :after AND s.located_at <= :until AND seen.id IS NULL
                ) s LEFT JOIN stamps.stamp_batch b ON b.id = s.batch_id
                LEFT JOIN stamps.stamp st ON st.serial = s.serial AND b.id IS NOT NULL
                ORDER BY s.scanned_at, s.id LIMIT :limit"""),
            {
                "after": after,
                "until": until,
                "skip_first": skip_first,
                "skip_last": skip_last,
                "relocated": list(relocated),
                "limit": limit,
            },
        )
        found: list[NewScan] = []
        for row in rows:
            located_at, home, product_id, entity_id, quantity, gtin, lot = row[SCAN_FIELDS:]
            found.append(NewScan(_scan(row), home, product_id, entity_id, quantity, gtin, lot, located_at))
        return found

    async def histories(self, wanted: Mapping[str, int], *, until: datetime) -> dict[str, list[Scan]]:
        """For each serial, its latest ``wanted[serial]`` scans up to ``until``, oldest first (one statement)."""
        if not wanted:
            return {}
        rows = await self.session.execute(
            text(f"""
                SELECT {SCAN_COLUMNS}
                FROM unnest(CAST(:serials AS text[]), CAST(:counts AS int[])) AS q(serial, n)
                CROSS JOIN LATERAL (
                    SELECT * FROM stamps.scan
                    WHERE serial = q.serial AND scanned_at <= :until
                    ORDER BY scanned_at DESC, id DESC LIMIT q.n
                ) s
                ORDER BY s.serial, s.scanned_at, s.id"""),
            {"serials": list(wanted), "counts": list(wanted.values()), "until": until},
        )
        found: dict[str, list[Scan]] = {serial: [] for serial in wanted}
        for row in rows:
            found[row.serial].append(_scan(row))
        return found

    async def scanner_scans(
        self, *, ip_hashes: Sequence[bytes], device_hashes: Sequence[bytes], after: datetime, until: datetime,
        per_scanner: int,
    ) -> list[Scan]:  # fmt: skip
        """The latest ``per_scanner`` scans in (after, until] of each of these IP hashes and devices, oldest first.

        Each scanner's are read backwards from an index and cut off: a scanner with thousands of scans in
        the hour costs a round no more than one with ``per_scanner``.
        """
        if not ip_hashes and not device_hashes:
            return []
        query = text(f"""
            SELECT s.* FROM unnest(CAST(:ips AS bytea[])) AS scanner(hash) CROSS JOIN LATERAL (
                SELECT {SCAN_COLUMNS} FROM stamps.scan s
                WHERE s.ip_hash = scanner.hash AND s.scanned_at > :after AND s.scanned_at <= :until
                ORDER BY s.scanned_at DESC LIMIT :per_scanner
            ) s
            UNION ALL
            SELECT s.* FROM unnest(CAST(:devices AS bytea[])) AS scanner(hash) CROSS JOIN LATERAL (
                SELECT {SCAN_COLUMNS} FROM stamps.scan s
                WHERE s.device_hash = scanner.hash AND s.scanned_at > :after AND s.scanned_at <= :until
                ORDER BY s.scanned_at DESC LIMIT :per_scanner
            ) s""").bindparams(bindparam("ips", type_=ARRAY(BYTEA)), bindparam("devices", type_=ARRAY(BYTEA)))
        rows = await self.session.execute(
            query,
            {"ips": list(ip_hashes), "devices": list(device_hashes), "after": after, "until": until,
             "per_scanner": per_scanner},
        )  # fmt: skip
        # A scan by a listed IP and a listed device comes twice.
        unique = {scan.id: scan for scan in map(_scan, rows)}
        return sorted(unique.values(), key=lambda scan: (scan.scanned_at, scan.id))

    async def unknown_scans(
        self, *, provinces: Sequence[str], after: datetime, until: datetime
    ) -> list[Scan]:
        """Scans of unknown serials in (after, until] in these provinces (or placed only by GPS), oldest first."""
        if not provinces:
            return []
        query = text(f"""
            SELECT {SCAN_COLUMNS} FROM stamps.scan s
            WHERE s.verdict = 'unknown' AND s.scanned_at > :after AND s.scanned_at <= :until
              AND (s.province_code = ANY(:provinces) OR (s.province_code IS NULL AND s.latitude IS NOT NULL))
            ORDER BY s.scanned_at, s.id""").bindparams(bindparam("provinces", type_=ARRAY(TEXT)))
        rows = await self.session.execute(
            query, {"provinces": list(provinces), "after": after, "until": until}
        )
        return [_scan(row) for row in rows]

    async def first_scans(
        self, *, batch_ids: Sequence[uuid.UUID], after: datetime, until: datetime
    ) -> list[Scan]:
        """The scans in (after, until] of these batches that were their serial's first and have a place (an IP
        province or a GPS fix), oldest first."""
        if not batch_ids:
            return []
        # The scan log flags a serial's first scan and a partial index (ix_scan_first) holds only those: a
        # batch scanned again and again in the hour costs a round its first scans, not every scan of it.
        rows = await self.session.execute(
            text(f"""
                SELECT {FIRST_SCAN_COLUMNS} FROM stamps.scan s
                WHERE s.first_scan AND s.batch_id = ANY(CAST(:batches AS uuid[]))
                  AND s.scanned_at > :after AND s.scanned_at <= :until
                  AND (s.province_code IS NOT NULL OR (s.latitude IS NOT NULL AND s.longitude IS NOT NULL))
                ORDER BY s.scanned_at, s.id"""),
            {"batches": list(batch_ids), "after": after, "until": until},
        )
        return [_first_scan(row) for row in rows]

    async def first_scan_counts(
        self, *, batch_ids: Sequence[uuid.UUID], after: datetime, until: datetime
    ) -> tuple[dict[tuple[uuid.UUID, str], int], list[Scan]]:
        """How many serials of each of these batches were first scanned per province code in (after, until]
        (two pods may both flag a serial's first scan); and, as rows, the few with a GPS fix but no province
        code (their place is ``Scan.province``'s to find)."""
        if not batch_ids:
            return {}, []
        window = """s.first_scan AND s.batch_id = ANY(CAST(:batches AS uuid[]))
                    AND s.scanned_at > :after AND s.scanned_at <= :until"""
        parameters = {"batches": list(batch_ids), "after": after, "until": until}
        counted = await self.session.execute(
            text(f"""
                SELECT s.batch_id, s.province_code, count(DISTINCT s.serial) AS scans FROM stamps.scan s
                WHERE {window} AND s.province_code IS NOT NULL
                GROUP BY s.batch_id, s.province_code"""),
            parameters,
        )
        # The scan log codes every fix it can place, so these are fixes outside every province: rare.
        unplaced = await self.session.execute(
            text(f"""
                SELECT {FIRST_SCAN_COLUMNS} FROM stamps.scan s
                WHERE {window} AND s.province_code IS NULL AND s.latitude IS NOT NULL AND s.longitude IS NOT NULL
                ORDER BY s.scanned_at, s.id"""),
            parameters,
        )
        counts = {(row.batch_id, row.province_code): row.scans for row in counted}
        return counts, [_first_scan(row) for row in unplaced]

    async def out_of_region_serials(self, batch_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        """How many serials of each batch were already flagged out of region (R8)."""
        if not batch_ids:
            return {}
        rows = await self.session.execute(
            text("""
                SELECT batch_id, count(DISTINCT serial) AS serials FROM stamps.anomaly
                WHERE rule = 'R8' AND batch_id = ANY(CAST(:batches AS uuid[])) GROUP BY batch_id"""),
            {"batches": list(batch_ids)},
        )
        return {row.batch_id: row.serials for row in rows}

    async def raised(
        self,
        *,
        serials: Sequence[str],
        serials_after: datetime,
        other_rules: Iterable[str],
        others_after: datetime,
    ) -> dict[tuple[str, str], list[tuple[datetime, datetime | None]]]:
        """For each (rule, key) raised, its anomalies' scan times and resolution times (None: open): those of
        ``serials`` raised for scans after ``serials_after``, and those of ``other_rules`` (about no one
        serial) after ``others_after``."""
        query = text("""
            SELECT rule, detail->>'key' AS key, scanned_at, resolved_at FROM stamps.anomaly
            WHERE (serial = ANY(:serials) AND scanned_at > :serials_after)
               OR (rule = ANY(:other_rules) AND scanned_at > :others_after)""").bindparams(
            bindparam("serials", type_=ARRAY(TEXT)), bindparam("other_rules", type_=ARRAY(TEXT))
        )
        values = {"serials": list(serials), "serials_after": serials_after, "other_rules": sorted(other_rules),
                  "others_after": others_after}  # fmt: skip
        found: dict[tuple[str, str], list[tuple[datetime, datetime | None]]] = defaultdict(list)
        for row in await self.session.execute(query, values):
            found[(row.rule, row.key)].append((row.scanned_at, row.resolved_at))
        return found

    async def add_anomalies(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert anomalies (one multi-row statement per thousand)."""
        if rows:
            await self.session.execute(insert(Anomaly), list(rows))

    async def impossible_travels(self, serials: Iterable[str]) -> dict[str, int]:
        """The stored count of impossible journeys of each of these stamps that has a risk row."""
        result = await self.session.execute(
            select(StampRisk.serial, StampRisk.impossible_travel).where(StampRisk.serial.in_(list(serials)))
        )
        return {row.serial: row.impossible_travel for row in result}

    async def save_risks(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Upsert the stamps' risk rows (serial, risk_score, rules, impossible_travel) that changed: one statement
        from arrays. A stamp with no risk keeps no row (verification reads none as 0)."""
        if not rows:
            return
        # Every examined stamp is evaluated, but few risks change: rewriting each row each round left a dead
        # row version per scan in the table verification reads (26,000 after a 60,000-scan burst).
        query = text("""
            INSERT INTO stamps.stamp_risk (serial, risk_score, rules, impossible_travel)
            SELECT r.serial, r.score, CAST(string_to_array(r.rules, ',') AS varchar(4)[]), r.travels
            FROM unnest(CAST(:serials AS text[]), CAST(:scores AS smallint[]), CAST(:rules AS text[]),
                        CAST(:travels AS smallint[])) AS r(serial, score, rules, travels)
            WHERE r.score > 0 OR r.rules <> '' OR r.travels > 0
               OR EXISTS (SELECT 1 FROM stamps.stamp_risk kept WHERE kept.serial = r.serial)
            ON CONFLICT (serial) DO UPDATE SET
                risk_score = excluded.risk_score, rules = excluded.rules,
                impossible_travel = excluded.impossible_travel, updated_at = now()
            WHERE (stamp_risk.risk_score, stamp_risk.rules, stamp_risk.impossible_travel)
                  IS DISTINCT FROM (excluded.risk_score, excluded.rules, excluded.impossible_travel)""")
        await self.session.execute(
            query,
            {
                "serials": [row["serial"] for row in rows], "scores": [row["risk_score"] for row in rows],
                "rules": [",".join(row["rules"]) for row in rows],
                "travels": [min(row["impossible_travel"], 32_767) for row in rows],
            },
        )  # fmt: skip

    async def list(
        self, visible: Visibility, where: AnomalyFilter, *, after: tuple[Any, ...] | None, limit: int
    ) -> KeysetPage[Anomaly]:
        """The anomalies ``visible`` admits, newest first."""
        query = select(Anomaly).where(
            visible_condition(visible, entity=Anomaly.entity_id, province=Anomaly.province_code)
        )
        for column, value in (
            (Anomaly.status, where.status), (Anomaly.rule, where.rule),
            (Anomaly.province_code, where.province_code), (Anomaly.serial, where.serial),
        ):  # fmt: skip
            if value is not None:
                query = query.where(column == value)
        if where.since is not None:
            query = query.where(Anomaly.created_at >= where.since)
        return await self.paginate(
            query, keys=(Anomaly.created_at, Anomaly.id), after=after, limit=limit, descending=True
        )
