"""``python -m bench.events``: the integration-events relay's throughput and latency, with the ceilings.

Set-up (not measured): a throwaway migrated database; two light subscribers, each an aiohttp server in
a process of its own that checks every delivery's signature, records the event id and the time it
arrived, and answers 200; the relay in a process of its own (as a service runs it: a started ``Relay``
on uvloop, on the registry schema's outbox, both subscribers taking every type).

Measured:
- throughput: N events (default 20,000, over ``--subjects`` subjects) emitted through ``Outbox.emit_many``
  and committed in one transaction; the time from the commit until both subscribers hold every
  event → events/s and deliveries/s (each event goes to both);
- latency: events offered at a steady rate (default 1,000/s for 10 s: every 10 ms a transaction of 10);
  commit (when the emitter's commit returned) → a subscriber received it, p50/p95/p99/max, over both
  subscribers' deliveries;
- baselines in the same run: the same subscribers posted to directly by a plain aiohttp loop at full
  speed (signed bodies, the relay's concurrency: the ceiling of posting), and the raw asyncpg rate of
  inserting the event rows (executemany in one transaction, and COPY) into a copy of the table.

CPU seconds of the relay process, of the subscribers and of PostgreSQL's backends are reported per
phase. Results go to ``bench/results/events.json``; the command exits non-zero if a delivery is
missing or a signature did not verify.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import psutil

from bench.cpu import background_busy
from bench.imports import BackendCpu
from bench.scenarios import throwaway_database
from shared.db import Database, asyncpg_dsn
from shared.dbadmin import database_of
from shared.events.envelope import Envelope
from shared.events.signing import SIGNATURE_HEADER, sign, verify
from shared.topology import REPO_ROOT
from tests.support.database import TestDatabase
from tests.support.processes import HOST, free_port

DEFAULT_OUTPUT = REPO_ROOT / "bench" / "results" / "events.json"
SECRET = "bench-events-secret"  # noqa: S105 - a throwaway bench key
EVENT_TYPE = "registry.product.updated"
SUBSCRIBERS = ("sub-a", "sub-b")
TICK_S = 0.01  # the latency phase commits a transaction every 10 ms


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.events", description=__doc__)
    parser.add_argument("--events", type=int, default=20_000, help="events of the throughput phase (20,000)")
    parser.add_argument("--subjects", type=int, default=2_000, help="subjects they are spread over (2,000)")
    parser.add_argument(
        "--rate", type=int, default=1_000, help="events/s offered in the latency phase (1,000)"
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of the latency phase (10)")
    parser.add_argument("--batch-size", type=int, default=None, help="the relay's batch_size (its default)")
    parser.add_argument("--concurrency", type=int, default=None, help="the relay's concurrency (its default)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results (%(default)s)")
    args = parser.parse_args(argv)
    if min(args.events, args.subjects, args.rate) < 1 or args.duration <= 0:
        parser.error("--events, --subjects, --rate and --duration must be positive")
    return args


# --- the subscriber process -------------------------------------------------------------------------


def serve_subscriber(port: int) -> None:
    """A light subscriber: check the signature, note the id and the arrival time, answer 200."""
    import uvloop
    from aiohttp import web

    received: dict[str, float] = {}
    bad = {"signatures": 0}

    async def deliver(request: web.Request) -> web.Response:
        body = await request.read()
        arrived = time.time()
        if not verify(request.headers.get(SIGNATURE_HEADER), body, [SECRET]):
            bad["signatures"] += 1
            return web.json_response({"title": "bad signature"}, status=401)
        event_id = orjson.loads(body)["id"]
        received.setdefault(event_id, arrived)
        return web.Response(
            body=orjson.dumps({"id": event_id, "outcome": "applied"}), content_type="application/json"
        )

    async def stats(_: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps({"count": len(received), "bad_signatures": bad["signatures"]}))

    async def arrivals(_: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(received))

    async def reset(_: web.Request) -> web.Response:
        received.clear()
        return web.Response(body=b"{}")

    app = web.Application()
    app.router.add_post("/internal/events", deliver)
    app.router.add_get("/stats", stats)
    app.router.add_get("/arrivals", arrivals)
    app.router.add_post("/reset", reset)
    uvloop.install()
    web.run_app(app, host=HOST, port=port, print=None, access_log=None, handle_signals=True)


# --- the relay process ------------------------------------------------------------------------------


def serve_relay(dsn: str, settings_json: str) -> None:
    """A started relay on the registry schema's outbox until SIGTERM (as a service's lifespan runs it)."""
    import signal

    import uvloop

    from shared.events.relay import running_relay
    from shared.events.settings import EventSettings

    settings = EventSettings.model_validate_json(settings_json)

    async def run() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        async with running_relay(dsn=dsn, schema="registry", settings=settings):
            await stop.wait()

    uvloop.run(run())


# --- the bench --------------------------------------------------------------------------------------


@dataclass
class Process:
    """A helper process of the bench and where it listens."""

    name: str
    popen: subprocess.Popen[bytes]
    port: int | None = None

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://{HOST}:{self.port}"

    def cpu_s(self) -> float:
        """CPU seconds it has used so far."""
        times = psutil.Process(self.popen.pid).cpu_times()
        return float(times.user + times.system)


def _spawn(name: str, *arguments: str, log_dir: Path) -> subprocess.Popen[bytes]:
    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    with (log_dir / f"{name}.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bench.events", *arguments],
            env={**os.environ, "PYTHONPATH": python_path}, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - loopback
        return orjson.loads(response.read())


def _post(url: str) -> None:
    request = urllib.request.Request(url, data=b"", method="POST")  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=30):  # noqa: S310 - loopback
        pass


def _wait_ready(process: Process, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if process.popen.poll() is not None:
            raise SystemExit(f"{process.name} exited with {process.popen.returncode}")
        try:
            _get(f"{process.url}/stats")
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextmanager
def helpers(database: TestDatabase, args: argparse.Namespace, log_dir: Path) -> Iterator[dict[str, Process]]:
    """The two subscribers and the relay, started; all stopped on exit."""
    started: dict[str, Process] = {}
    try:
        for name in SUBSCRIBERS:
            port = free_port()
            started[name] = Process(name, _spawn(name, "subscriber", str(port), log_dir=log_dir), port)
        for name in SUBSCRIBERS:
            _wait_ready(started[name])
        settings: dict[str, Any] = {
            "subscribers": [
                {
                    "name": name,
                    "url": f"{started[name].url}/internal/events",
                    "types": ["*"],
                    "secret": SECRET,
                }
                for name in SUBSCRIBERS
            ],
        }
        if args.batch_size is not None:
            settings["batch_size"] = args.batch_size
        if args.concurrency is not None:
            settings["concurrency"] = args.concurrency
        dsn = asyncpg_dsn(database.urls["registry"])
        started["relay"] = Process(
            "relay", _spawn("relay", "relay", dsn, json.dumps(settings), log_dir=log_dir)
        )
        yield started
    finally:
        for process in started.values():
            if process.popen.poll() is None:
                process.popen.terminate()
        for process in started.values():
            try:
                process.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.popen.kill()


class Cpu:
    """CPU seconds of the relay, the subscribers and the database over one phase."""

    def __init__(self, processes: dict[str, Process], backends: BackendCpu) -> None:
        self.processes, self.backends = processes, backends
        self.before = self._sample()

    def _sample(self) -> dict[str, float]:
        return {
            "relay": self.processes["relay"].cpu_s(),
            "subscribers": sum(self.processes[name].cpu_s() for name in SUBSCRIBERS),
            "postgres": self.backends.sample(),
            "bench": time.process_time(),
        }

    def used(self) -> dict[str, float]:
        """CPU seconds each used since this was made."""
        now = self._sample()
        return {name: round(now[name] - self.before[name], 2) for name in now}


def _envelopes(outbox: Any, count: int, subjects: int, start: int = 0) -> list[Envelope]:
    return [
        outbox.envelope(
            type=EVENT_TYPE, subject=f"product/{(start + index) % subjects}", data={"n": start + index}
        )
        for index in range(count)
    ]


def _counts(processes: dict[str, Process]) -> dict[str, dict[str, int]]:
    return {name: _get(f"{processes[name].url}/stats") for name in SUBSCRIBERS}


async def _until_all_arrived(processes: dict[str, Process], expected: int, timeout_s: float) -> float:
    """Poll the subscribers until each holds ``expected`` events; when that was (perf_counter)."""
    deadline = time.perf_counter() + timeout_s
    while True:
        counts = await asyncio.to_thread(_counts, processes)
        if all(count["count"] >= expected for count in counts.values()):
            return time.perf_counter()
        if time.perf_counter() > deadline:
            raise SystemExit(f"not every event arrived in {timeout_s:.0f} s: {counts} of {expected}")
        await asyncio.sleep(0.02)


async def throughput(database: Database, processes: dict[str, Process], backends: BackendCpu,
                     args: argparse.Namespace) -> dict[str, Any]:  # fmt: skip
    """N events committed at once; the time until both subscribers hold them all."""
    from services.registry.db import outbox as tables
    from shared.events.outbox import Outbox

    outbox = Outbox(tables, source="registry")
    envelopes = _envelopes(outbox, args.events, args.subjects)
    emit_started = time.perf_counter()
    async with database.sessionmaker() as session, session.begin():
        for start in range(0, len(envelopes), 2_000):
            await outbox.emit_many(session, envelopes[start : start + 2_000])
    committed = time.perf_counter()
    cpu = Cpu(processes, backends)
    finished = await _until_all_arrived(processes, args.events, timeout_s=600)
    wall = finished - committed
    return {
        "events": args.events, "subjects": args.subjects, "emit_s": round(committed - emit_started, 3),
        "wall_s": round(wall, 3), "events_per_s": round(args.events / wall), "deliveries_per_s": round(
            len(SUBSCRIBERS) * args.events / wall), "cpu_s": cpu.used(),
    }  # fmt: skip


async def latency(database: Database, processes: dict[str, Process], backends: BackendCpu,
                  args: argparse.Namespace) -> dict[str, Any]:  # fmt: skip
    """Events offered at a steady rate; commit → arrival at each subscriber."""
    from services.registry.db import outbox as tables
    from shared.events.outbox import Outbox

    outbox = Outbox(tables, source="registry")
    for name in SUBSCRIBERS:
        await asyncio.to_thread(_post, f"{processes[name].url}/reset")
    per_tick = max(1, round(args.rate * TICK_S))
    ticks = round(args.duration / TICK_S)
    committed_at: dict[str, float] = {}
    late_ticks = 0
    cpu = Cpu(processes, backends)
    started = time.perf_counter()
    for tick in range(ticks):
        due = started + tick * TICK_S
        pause = due - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        elif pause < -TICK_S:
            late_ticks += 1
        envelopes = _envelopes(outbox, per_tick, args.subjects, start=tick * per_tick)
        async with database.sessionmaker() as session, session.begin():
            await outbox.emit_many(session, envelopes)
        now = time.time()
        for envelope in envelopes:
            committed_at[str(envelope.id)] = now
    offered_s = time.perf_counter() - started
    await _until_all_arrived(processes, len(committed_at), timeout_s=120)
    used = cpu.used()
    samples: list[float] = []
    for name in SUBSCRIBERS:
        arrivals: dict[str, float] = await asyncio.to_thread(_get, f"{processes[name].url}/arrivals")
        samples += [1000 * (arrivals[event_id] - at) for event_id, at in committed_at.items()]
    ordered = sorted(samples)

    def percentile(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(len(ordered) * share))], 1)

    return {
        "offered_per_s": args.rate, "events": len(committed_at), "offered_s": round(offered_s, 2),
        "achieved_per_s": round(len(committed_at) / offered_s), "late_ticks": late_ticks,
        "deliveries": len(samples), "mean_ms": round(statistics.fmean(ordered), 1), "p50_ms": percentile(0.5),
        "p95_ms": percentile(0.95), "p99_ms": percentile(0.99), "max_ms": round(ordered[-1], 1), "cpu_s": used,
    }  # fmt: skip


async def posting_ceiling(processes: dict[str, Process], events: int, concurrency: int) -> dict[str, Any]:
    """The same subscribers posted to directly, signed, ``concurrency`` in flight: no database at all."""
    for name in SUBSCRIBERS:
        await asyncio.to_thread(_post, f"{processes[name].url}/reset")
    urls = [f"{processes[name].url}/internal/events" for name in SUBSCRIBERS]
    bodies = [
        Envelope(id=uuid.uuid4(), type=EVENT_TYPE, occurred_at=datetime.now(UTC), source="registry",
                 subject=f"product/{index}", data={"n": index}).to_json()
        for index in range(events)
    ]  # fmt: skip
    jobs = [(url, body) for body in bodies for url in urls]
    queue = iter(jobs)
    failures = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def poster() -> None:
            nonlocal failures
            for url, body in queue:
                headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(SECRET, body)}
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    failures += response.status != 200

        started = time.perf_counter()
        await asyncio.gather(*(poster() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return {
        "posts": len(jobs), "concurrency": concurrency, "wall_s": round(wall, 3),
        "posts_per_s": round(len(jobs) / wall), "failures": failures,
    }  # fmt: skip


async def insert_ceiling(database: TestDatabase, events: int, subjects: int) -> dict[str, Any]:
    """The event rows written by raw asyncpg into a temporary copy of the outbox table."""
    connection = await asyncpg.connect(asyncpg_dsn(database.urls["registry"]))
    try:
        await connection.execute(
            "CREATE TEMP TABLE bench_event (LIKE registry.outbox_event INCLUDING DEFAULTS INCLUDING IDENTITY)"
        )
        now = datetime.now(UTC)
        rows = [
            (uuid.uuid4(), EVENT_TYPE, "registry", f"product/{index % subjects}", now,
             orjson.dumps({"n": index}).decode(), None)
            for index in range(events)
        ]  # fmt: skip
        columns = ["id", "type", "source", "subject", "occurred_at", "data", "request_id"]
        insert = (
            "INSERT INTO bench_event (id, type, source, subject, occurred_at, data, request_id) "
            "VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)"
        )
        started = time.perf_counter()
        async with connection.transaction():
            await connection.executemany(insert, rows)
        executemany_s = time.perf_counter() - started
        await connection.execute("TRUNCATE bench_event")
        started = time.perf_counter()
        await connection.copy_records_to_table("bench_event", records=rows, columns=columns)
        copy_s = time.perf_counter() - started
    finally:
        await connection.close()
    return {
        "rows": events, "executemany_s": round(executemany_s, 3), "executemany_per_s": round(events / executemany_s),
        "copy_s": round(copy_s, 3), "copy_per_s": round(events / copy_s),
    }  # fmt: skip


async def check_outbox(database: TestDatabase, expected: int) -> dict[str, int]:
    """Every delivery delivered, each once."""
    connection = await asyncpg.connect(asyncpg_dsn(database.urls["registry"]))
    try:
        rows = await connection.fetch("SELECT status, count(*) FROM registry.outbox_delivery GROUP BY status")
    finally:
        await connection.close()
    counts = {row["status"]: int(row["count"]) for row in rows}
    if counts != {"delivered": expected}:
        raise SystemExit(f"the outbox did not end delivered: {counts} (expected {expected} delivered)")
    return counts


async def run(
    database: TestDatabase, processes: dict[str, Process], args: argparse.Namespace
) -> dict[str, Any]:
    """The phases, in order, on one database and the same processes."""
    connected = Database.connect(database.urls["registry"], application_name="bench-emitter", pool_size=4)
    try:
        with BackendCpu(database_of(database.admin_url)) as backends:
            results: dict[str, Any] = {"throughput": await throughput(connected, processes, backends, args)}
            print(f"throughput: {results['throughput']}")
            results["latency"] = await latency(connected, processes, backends, args)
            print(f"latency: {results['latency']}")
    finally:
        await connected.dispose()
    stats = await asyncio.to_thread(_counts, processes)
    if any(count["bad_signatures"] for count in stats.values()):
        raise SystemExit(f"a delivery's signature did not verify: {stats}")
    delivered = len(SUBSCRIBERS) * (args.events + results["latency"]["events"])
    results["outbox"] = await check_outbox(database, delivered)
    concurrency = args.concurrency or 64
    results["baseline_posting"] = await posting_ceiling(processes, args.events, concurrency)
    print(f"posting ceiling: {results['baseline_posting']}")
    results["baseline_insert"] = await insert_ceiling(database, args.events, args.subjects)
    print(f"insert ceiling: {results['baseline_insert']}")
    return results


def report(results: dict[str, Any]) -> str:
    """The figures as a Markdown table."""
    put, lat = results["throughput"], results["latency"]
    post, ins = results["baseline_posting"], results["baseline_insert"]
    return "\n".join([
        "| what | events | deliveries/s | events/s | p50 ms | p99 ms | max ms | CPU s relay / subs / pg |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
        f"| relay, backlog of {put['events']} committed at once | {put['events']} | {put['deliveries_per_s']} | "
        f"{put['events_per_s']} | | | | {put['cpu_s']['relay']} / {put['cpu_s']['subscribers']} / {put['cpu_s']['postgres']} |",
        f"| relay, {lat['offered_per_s']}/s offered for {lat['offered_s']} s (commit → received) | {lat['events']} | | "
        f"{lat['achieved_per_s']} | {lat['p50_ms']} | {lat['p99_ms']} | {lat['max_ms']} | "
        f"{lat['cpu_s']['relay']} / {lat['cpu_s']['subscribers']} / {lat['cpu_s']['postgres']} |",
        f"| baseline: aiohttp posts straight to the subscribers ({post['concurrency']} in flight) | "
        f"{post['posts'] // len(SUBSCRIBERS)} | {post['posts_per_s']} | {post['posts_per_s'] // len(SUBSCRIBERS)} | | | | |",
        f"| baseline: asyncpg executemany of the event rows, one transaction | {ins['rows']} | | {ins['executemany_per_s']} | | | | |",
        f"| baseline: asyncpg COPY of the event rows | {ins['rows']} | | {ins['copy_per_s']} | | | | |",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the bench (or, as a helper process, a subscriber or the relay)."""
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["subscriber"]:
        serve_subscriber(int(arguments[1]))
        return 0
    if arguments[:1] == ["relay"]:
        serve_relay(arguments[1], arguments[2])
        return 0
    import tempfile

    import uvloop

    args = parse_args(arguments)
    command = shlex.join(["python", "-m", "bench.events", *arguments])
    busy = background_busy()
    print(f"{command}: {args.events} events to {len(SUBSCRIBERS)} subscribers, then {args.rate}/s for "
          f"{args.duration:g} s; CPUs busy beforehand: {'?' if busy is None else f'{busy:.0%}'}")  # fmt: skip
    started = datetime.now(UTC)
    with (
        throwaway_database() as database,
        tempfile.TemporaryDirectory() as logs,
        helpers(database, args, Path(logs)) as processes,
    ):
        results = uvloop.run(run(database, processes, args))
    print()
    print(report(results))
    document = {
        "date": started.isoformat(timespec="seconds"), "command": command, "cpus": os.cpu_count(),
        "background_busy": busy,
        "settings": {"events": args.events, "subjects": args.subjects, "rate": args.rate, "duration_s": args.duration,
                     "batch_size": args.batch_size, "concurrency": args.concurrency, "subscribers": len(SUBSCRIBERS)},
        **results,
    }  # fmt: skip
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print(f"\nresults written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
