"""``python -m bench.epcis_query``: GET /epcis/events?MATCH_epc=… latency on a store of 1,000,000 events.

Set-up (not measured): a throwaway migrated database; ``--events`` (1,000,000) ObjectEvents written
with COPY into ``stamps.epcis_event`` (each its ``doc`` as a capture would keep it, about 450 bytes,
over a year, in two provinces and 50 producers) and one ``stamps.epcis_event_epc`` row per event: a
population of ``--events // 5`` stamps, each named by five events (commissioning, packing, shipping,
receiving, retail selling), then ANALYZE. The EPC of each request is a random stamp's, asked in its
EPC URN form half the time (the service matches every spelling).

Measured: each request through the stamps app in-process (httpx's ASGI transport: the JWT check, the
parameters' parsing, the one statement of the page, the EPCISQueryDocument written), as an admin, with
``--requests`` (2,000) requests from one client and then from ``--concurrency`` (4) clients at once.
Reported: p50 and p99 per request in ms and requests/s, the CPU of the machine's other work, and the
plan of the page's statement for one EPC (EXPLAIN ANALYZE of what the repository runs).
JSON in ``bench/results/epcis_query.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
from sqlalchemy.dialects import postgresql

from bench.cpu import background_busy
from bench.scenarios import throwaway_database
from services.stamps.config import StampsSettings
from services.stamps.main import create_app
from services.stamps.traceability.repository import page_statement
from services.stamps.traceability.service import parse_query
from shared.db import asyncpg_dsn
from shared.security.scopes import EVERYTHING
from shared.topology import REPO_ROOT
from tests.conftest import auth, in_process_events, test_jwks

RESULTS = REPO_ROOT / "bench" / "results" / "epcis_query.json"
GTIN = "08934567000017"
STEPS = (
    ("ADD", "commissioning", "active"), ("OBSERVE", "packing", "in_progress"), ("OBSERVE", "shipping", "in_transit"),
    ("OBSERVE", "receiving", "sellable_accessible"), ("OBSERVE", "retail_selling", "retail_sold"),
)  # fmt: skip
START = datetime(2025, 12, 1, tzinfo=UTC)
COPY_ROWS = 50_000


def _serial(number: int) -> str:
    return f"S{number:011d}"


def _events(
    count: int, stamps: int, entities: list[uuid.UUID]
) -> Iterator[tuple[tuple[object, ...], tuple[object, ...]]]:
    """Each event's epcis_event row and its one epcis_event_epc row."""
    for number in range(count):
        stamp, step = number % stamps, number // stamps % len(STEPS)
        action, biz_step, disposition = STEPS[step]
        moment = START + timedelta(seconds=stamp * 97 % 31_000_000 + step * 86_400)
        epc = f"/01/{GTIN}/21/{_serial(stamp)}"
        event_id = f"urn:uuid:{uuid.uuid4()}"
        location = f"https://id.gs1.org/414/89345670{stamp % 1000:04d}0"
        doc = json.dumps({
            "type": "ObjectEvent", "eventID": event_id, "eventTime": moment.isoformat(timespec="milliseconds"),
            "eventTimeZoneOffset": "+07:00", "action": action, "epcList": [f"https://tem.ocop.example.vn{epc}"],
            "bizStep": biz_step, "disposition": disposition, "readPoint": {"id": location},
            "bizLocation": {"id": location},
        })  # fmt: skip
        row_id = uuid.uuid4()
        entity = entities[stamp % len(entities)]
        yield (
            (row_id, event_id, "ObjectEvent", action, moment, "+07:00", START + timedelta(days=400), biz_step,
             disposition, location, location, entity, "22" if stamp % 2 else "01", "capture", doc),
            (row_id, epc, "epc"),
        )  # fmt: skip


async def _fill(dsn: str, count: int, stamps: int) -> float:
    connection = await asyncpg.connect(dsn)
    entities = [uuid.uuid4() for _ in range(50)]
    started = time.perf_counter()
    try:
        rows = _events(count, stamps, entities)
        while True:
            chunk = [pair for _, pair in zip(range(COPY_ROWS), rows, strict=False)]
            if not chunk:
                break
            await connection.copy_records_to_table(
                "epcis_event", schema_name="stamps", records=[event for event, _ in chunk],
                columns=["id", "event_id", "type", "action", "event_time", "event_time_zone_offset", "record_time",
                         "biz_step", "disposition", "read_point", "biz_location", "entity_id", "province_code",
                         "origin", "doc"],
            )  # fmt: skip
            await connection.copy_records_to_table(
                "epcis_event_epc", schema_name="stamps", records=[epc for _, epc in chunk],
                columns=["event_uuid", "epc", "role"],
            )  # fmt: skip
        await connection.execute("ANALYZE stamps.epcis_event; ANALYZE stamps.epcis_event_epc")
    finally:
        await connection.close()
    return time.perf_counter() - started


def _path(stamps: int) -> str:
    serial = _serial(random.randrange(stamps))
    if random.random() < 0.5:
        epc = f"https://id.gs1.org/01/{GTIN}/21/{serial}"
    else:
        epc = f"urn:epc:id:sgtin:8934567.000001.{serial}"
    return f"/epcis/events?MATCH_epc={epc}"


async def _client(client: httpx.AsyncClient, stamps: int, requests: int, latencies: list[float]) -> None:
    headers = auth("admin")
    for _ in range(requests):
        started = time.perf_counter()
        answer = await client.get(_path(stamps), headers=headers)
        latencies.append(time.perf_counter() - started)
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]) == len(STEPS)


async def _plan(dsn: str, stamps: int) -> list[str]:
    """EXPLAIN ANALYZE of the statement the repository runs for a page of one EPC's events."""
    query = parse_query([("MATCH_epc", f"https://id.gs1.org/01/{GTIN}/21/{_serial(stamps // 2)}")])
    sql = str(
        page_statement(EVERYTHING, query).compile(
            dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
        )
    )
    connection = await asyncpg.connect(dsn)
    try:
        return [row[0] for row in await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")]
    finally:
        await connection.close()


def _figures(latencies: list[float], seconds: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        "requests_per_s": round(len(ordered) / seconds),
    }


async def _run(url: str, events: int, requests: int, concurrency: int) -> dict[str, object]:
    stamps = events // len(STEPS)
    fill_s = await _fill(asyncpg_dsn(url), events, stamps)
    print(f"filled {events:,} events ({stamps:,} stamps) with COPY in {fill_s:.1f} s")
    settings = StampsSettings(
        database_url=url, environment="test", jwt_public_keys=test_jwks(), events=in_process_events("stamps"),
        batch_job_every_s=0, anomaly_job_every_s=0, db_pool_size=max(4, concurrency),
    )  # fmt: skip
    plan = await _plan(asyncpg_dsn(url), stamps)
    print("\n".join(plan))
    app = create_app(settings)
    report: dict[str, object] = {"events": events, "stamps": stamps, "fill_s": round(fill_s, 1), "plan": plan}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client,
    ):
        await _client(client, stamps, 50, [])  # warm the pool and the caches
        for clients in (1, concurrency):
            busy = background_busy() or 0.0
            latencies: list[float] = []
            started = time.perf_counter()
            await asyncio.gather(
                *(_client(client, stamps, requests // clients, latencies) for _ in range(clients))
            )
            figures = _figures(latencies, time.perf_counter() - started)
            report[f"clients_{clients}"] = {
                **figures,
                "requests": len(latencies),
                "others_busy": round(busy, 2),
            }
            print(f"{clients} client(s): {figures} (others' CPU {busy:.0%})")
    return report


def main() -> None:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.epcis_query", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with throwaway_database() as database:
        report = asyncio.run(_run(database.urls["stamps"], args.events, args.requests, args.concurrency))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
