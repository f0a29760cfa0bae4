"""``python -m bench.epcis_capture``: EPCIS capture throughput (events/s) for documents of 1, 100 and 10,000 events.

Set-up (not measured): a throwaway migrated database and the stamps app in-process (httpx's ASGI
transport, lifespan running, the capture runner driven by the bench). Each document holds ObjectEvents
of one EPC each (GS1's example company prefix, so an admin captures them), every event distinct.

- **capture**: ``POST /epcis/capture`` (size, JSON, GS1's schema, CBV vocabulary, times, identifiers checked
  in the request; the job recorded), then one pass of the capture runner storing the events (schema and
  identifiers again, one statement for the events and their EPC rows), until the job reads ``success``;
- **baseline**: the same rows (events with their JSON, one EPC row each) written by asyncpg's binary
  ``COPY`` into the same tables, one transaction per document: the least work that stores them.

Reported: events/s of each per document size (events ÷ seconds, the median of the repeats), capture ÷
COPY, and the CPU of the machine's other work. JSON in ``bench/results/epcis_capture.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import orjson

from bench.cpu import background_busy
from bench.scenarios import throwaway_database
from services.stamps.config import EpcisSettings, StampsSettings
from services.stamps.epcis.identifiers import canonical
from services.stamps.epcis.runner import CaptureRunner
from services.stamps.main import create_app
from shared import clock
from shared.db import asyncpg_dsn
from shared.security.jwt import TokenSigner
from shared.security.keys import generate_rsa_pair, jwks
from shared.security.principal import Principal, Role
from shared.topology import REPO_ROOT

RESULTS = REPO_ROOT / "bench" / "results" / "epcis_capture.json"
KID = "bench-epcis"
ISSUER, AUDIENCE = "ocop-gateway", "ocop-platform"
CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
# document size → how many such documents are captured per measurement
SIZES = {1: 200, 100: 20, 10_000: 2}


def _events(count: int, start: int) -> list[dict[str, Any]]:
    moment = (clock.now() - timedelta(hours=1)).astimezone(clock.VIETNAM).isoformat(timespec="milliseconds")
    return [
        {
            "type": "ObjectEvent",
            "eventTime": moment,
            "eventTimeZoneOffset": "+07:00",
            "action": "OBSERVE",
            "epcList": [f"urn:epc:id:sgtin:0614141.107346.{start + i}"],
            "bizStep": "shipping",
            "disposition": "in_transit",
            "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0"},
            "eventID": f"urn:uuid:{uuid.uuid4()}",
        }
        for i in range(count)
    ]


def _document(events: list[dict[str, Any]]) -> bytes:
    return orjson.dumps(
        {
            "@context": [CONTEXT],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": clock.now().isoformat(),
            "epcisBody": {"eventList": events},
        }
    )


async def _capture(client: httpx.AsyncClient, runner: CaptureRunner, body: bytes, token: str) -> float:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/ld+json"}
    started = time.perf_counter()
    answer = await client.post("/epcis/capture", content=body, headers=headers)
    assert answer.status_code == 202, answer.text
    assert await runner.run_once() == 1
    job = (await client.get(answer.headers["Location"], headers=headers)).json()
    elapsed = time.perf_counter() - started
    assert job["success"] is True, job
    return elapsed


async def _copy(connection: asyncpg.Connection, events: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    now = clock.now()
    ids = [uuid.uuid4() for _ in events]
    rows = [
        (
            ids[i],
            e["eventID"],
            e["type"],
            e["action"],
            datetime.fromisoformat(e["eventTime"]),
            e["eventTimeZoneOffset"],
            now,
            e["bizStep"],
            e["disposition"],
            canonical(e["readPoint"]["id"]),
            None,
            None,
            None,
            None,
            "capture",
            orjson.dumps(e).decode(),
        )
        for i, e in enumerate(events)
    ]
    epcs = [(ids[i], canonical(epc), "epc") for i, e in enumerate(events) for epc in e["epcList"]]
    async with connection.transaction():
        await connection.copy_records_to_table(
            "epcis_event", schema_name="stamps", records=rows,
            columns=["id", "event_id", "type", "action", "event_time", "event_time_zone_offset", "record_time",
                     "biz_step", "disposition", "read_point", "biz_location", "capture_job_id", "entity_id",
                     "province_code", "origin", "doc"],
        )  # fmt: skip
        await connection.copy_records_to_table(
            "epcis_event_epc", schema_name="stamps", records=epcs, columns=["event_uuid", "epc", "role"]
        )
    return time.perf_counter() - started


async def _run(url: str, sizes: dict[int, int]) -> dict[str, Any]:
    private_pem, public_pem = generate_rsa_pair()
    token = TokenSigner(private_pem, kid=KID, issuer=ISSUER).sign(
        Principal(sub="bench-epcis", role=Role.admin), audience=AUDIENCE, ttl_s=3_600
    )
    settings = StampsSettings(
        database_url=url, environment="test", jwt_public_keys=jwks(public_pem, KID), batch_job_every_s=0,
        anomaly_job_every_s=0, epcis_job_every_s=0, access_log=False,
        epcis=EpcisSettings(max_document_bytes=64 * 1024 * 1024, max_events=50_000),
    )  # fmt: skip
    app = create_app(settings)
    connection = await asyncpg.connect(asyncpg_dsn(url))
    # COPY is binary: jsonb's binary form is a version byte (1) and the JSON text.
    await connection.set_type_codec(
        "jsonb", encoder=lambda text: b"\x01" + text.encode(), decoder=lambda data: json.loads(data[1:]),
        schema="pg_catalog", format="binary",
    )  # fmt: skip
    report: dict[str, Any] = {"sizes": {}}
    counter = 0
    try:
        async with app.router.lifespan_context(app):
            runner = CaptureRunner(lambda: app.state.db, settings.epcis, every_s=1)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as client:
                for size, repeats in sizes.items():
                    capture_s, copy_s = [], []
                    busy = background_busy() or 0.0
                    for repeat in range(repeats):
                        first = repeat % 2 == 0  # alternate which goes first
                        for what in ("capture", "copy") if first else ("copy", "capture"):
                            events = _events(size, counter)
                            counter += size
                            if what == "capture":
                                capture_s.append(await _capture(client, runner, _document(events), token))
                            else:
                                copy_s.append(await _copy(connection, events))
                    capture = size / statistics.median(capture_s)
                    copy = size / statistics.median(copy_s)
                    report["sizes"][str(size)] = {
                        "documents": repeats, "capture_events_per_s": round(capture), "copy_events_per_s": round(copy),
                        "ratio": round(capture / copy, 3), "others_busy": round(busy, 2),
                        "capture_s": capture_s, "copy_s": copy_s,
                    }  # fmt: skip
                    print(
                        f"{size:>6,}-event documents ×{repeats}: capture {capture:,.0f} events/s,"
                        f" COPY {copy:,.0f} events/s ({capture / copy:.2f}×); others' CPU {busy:.0%}",
                        flush=True,
                    )
    finally:
        await connection.close()
    return report


def main() -> None:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.epcis_capture", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1,100,10000", help="document sizes in events, comma-separated")
    args = parser.parse_args()
    sizes = {int(size): SIZES.get(int(size), 2) for size in args.sizes.split(",")}
    with throwaway_database() as database:
        report = asyncio.run(_run(database.urls["stamps"], sizes))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
