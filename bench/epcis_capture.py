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

``--concurrency N`` (N > 0) measures instead what many clients sending documents at once get: the app's
own capture runner running (woken by each capture, as in service), N clients posting ``--documents``
documents of each size between them (each client posts its next document once the previous one is
accepted: 202), timed from the first POST until no job is running; then every job is read back through
``GET /epcis/capture/{id}`` (not timed) and must read ``success`` with its events stored.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import orjson

from bench.cpu import _cpu_by_pid, backends_of, background_busy
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


async def _concurrent(
    client: httpx.AsyncClient,
    connection: asyncpg.Connection,
    size: int,
    documents: int,
    clients: int,
    token: str,
) -> dict[str, Any]:
    """``documents`` documents of ``size`` events posted by ``clients`` clients at once; events/s until all stored."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/ld+json"}
    bodies = [_document(_events(size, 10_000_000 + i * size)) for i in range(documents)]
    pending = iter(bodies)
    locations: list[str] = []

    async def one_client() -> None:
        for body in pending:
            answer = await client.post("/epcis/capture", content=body, headers=headers)
            assert answer.status_code == 202, answer.text
            locations.append(answer.headers["Location"])

    busy = background_busy() or 0.0
    before = await connection.fetchval("SELECT count(*) FROM stamps.epcis_event")
    backends = backends_of(await connection.fetchval("SELECT current_database()"))
    database_cpu = _cpu_by_pid(backends)
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    posted = time.perf_counter() - started
    running = "SELECT count(*) FROM stamps.epcis_capture_job WHERE status = 'running'"
    while await connection.fetchval(running):  # noqa: ASYNC110 - the jobs are another process's in service
        await asyncio.sleep(0.005)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    after = _cpu_by_pid(backends_of(await connection.fetchval("SELECT current_database()")))
    database_cpu_s = sum(used - database_cpu.get(pid, 0.0) for pid, used in after.items())
    for location in locations:
        job = (await client.get(location, headers=headers)).json()
        assert job["success"] is True, job
        assert job["eventCount"] == size, job
    stored = await connection.fetchval("SELECT count(*) FROM stamps.epcis_event") - before
    assert stored == size * documents, (stored, size * documents)
    rate = size * documents / elapsed
    print(
        f"{size:>6,}-event documents ×{documents}, {clients} clients: {rate:,.0f} events/s"
        f" ({documents / elapsed:,.0f} documents/s; all accepted after {posted:.2f} s, all stored after"
        f" {elapsed:.2f} s); CPU per document: {cpu / documents * 1000:.1f} ms the app and clients,"
        f" {database_cpu_s / documents * 1000:.1f} ms PostgreSQL; others' CPU {busy:.0%}",
        flush=True,
    )
    return {
        "documents": documents, "clients": clients, "events_per_s": round(rate),
        "documents_per_s": round(documents / elapsed, 1), "accepted_s": posted, "stored_s": elapsed,
        "process_cpu_s": round(cpu, 2), "database_cpu_s": round(database_cpu_s, 2), "others_busy": round(busy, 2),
    }  # fmt: skip


def _settings(url: str, public_pem: str, *, runner_every_s: float) -> StampsSettings:
    return StampsSettings(
        database_url=url, environment="test", jwt_public_keys=jwks(public_pem, KID), batch_job_every_s=0,
        anomaly_job_every_s=0, epcis_job_every_s=runner_every_s, access_log=False,
        epcis=EpcisSettings(max_document_bytes=64 * 1024 * 1024, max_events=50_000),
    )  # fmt: skip


async def _run(url: str, sizes: dict[int, int], *, clients: int = 0) -> dict[str, Any]:
    private_pem, public_pem = generate_rsa_pair()
    token = TokenSigner(private_pem, kid=KID, issuer=ISSUER).sign(
        Principal(sub="bench-epcis", role=Role.admin), audience=AUDIENCE, ttl_s=3_600
    )
    # Concurrent clients: the app's own runner, woken by each capture; otherwise the bench drives it.
    settings = _settings(url, public_pem, runner_every_s=5.0 if clients else 0)
    app = create_app(settings)
    logging.getLogger("httpx").setLevel(
        logging.WARNING
    )  # a line per request: the client's work, not capture's
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
                for size, documents in sizes.items() if clients else ():
                    report["sizes"][str(size)] = await _concurrent(
                        client, connection, size, documents, clients, token
                    )
                for size, repeats in sizes.items() if not clients else ():
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
    parser.add_argument(
        "--concurrency", type=int, default=0, help="clients sending documents at once (0: one after another)"
    )
    parser.add_argument(
        "--documents",
        type=int,
        default=0,
        help="with --concurrency: documents of each size (default 2,000 events' worth)",
    )
    args = parser.parse_args()
    if args.concurrency:
        sizes = {int(size): args.documents or max(2, 2_000 // int(size)) for size in args.sizes.split(",")}
    else:
        sizes = {int(size): SIZES.get(int(size), 2) for size in args.sizes.split(",")}
    with throwaway_database() as database:
        report = asyncio.run(_run(database.urls["stamps"], sizes, clients=args.concurrency))
    report["concurrency"] = args.concurrency
    results = RESULTS.with_name("epcis_capture_concurrent.json") if args.concurrency else RESULTS
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
