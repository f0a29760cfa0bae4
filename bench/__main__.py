"""``python -m bench``: ceiling, registry read direct, and through the gateway with each upstream client."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import asyncpg

from bench.cpu import background_busy
from bench.load import LOADERS, LoadResult, wrk_available
from bench.scenarios import (
    RATE_LIMIT_PAIRS,
    ScenarioResult,
    create_product,
    pin_process_settings,
    processes_under_test,
    run_scenarios,
    select_scenarios,
    throwaway_database,
)
from shared import dbadmin
from shared.db import asyncpg_dsn
from shared.topology import REPO_ROOT

DEFAULT_OUTPUT = REPO_ROOT / "bench" / "results" / "latest.json"
# Above this share of the CPUs busy before the run, the figures measure contention, not the suite.
BUSY_WARNING = 0.05
PACKAGES = (
    "fastapi",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "aiohttp",
    "httpx",
    "sqlalchemy",
    "asyncpg",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--duration", type=float, default=10.0, help="measured seconds per scenario (default 10)"
    )
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="unmeasured seconds before each (default 2)"
    )
    parser.add_argument(
        "--connections", type=int, default=50, help="concurrent keep-alive connections (default 50)"
    )
    parser.add_argument(
        "--load", choices=sorted(LOADERS), default="python", help="load generator: the async client or wrk"
    )
    parser.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="every process writes its JSON access line (default: on, as in production)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure the scenarios this many times over, one after the other, and report medians "
        "(a shared machine's noise; default 1)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="TEXT",
        help="only the scenarios whose name contains TEXT (repeatable; the ceiling is always measured)",
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results (default %(default)s)"
    )
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.warmup < 0 or args.connections < 1 or args.rounds < 1:
        parser.error("--duration must be > 0, --warmup >= 0, --connections >= 1 and --rounds >= 1")
    try:
        select_scenarios(args.only)
    except ValueError as exc:
        parser.error(f"--only: {exc}")
    if args.load == "wrk" and not wrk_available():
        parser.error("--load wrk: wrk is not installed (Debian: apt-get install wrk)")
    return args


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, if there is one."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


async def _postgres_version(admin_url: str) -> str:
    connection = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


def environment(admin_url: str) -> dict[str, Any]:
    """The machine and software the figures were measured on."""
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": asyncio.run(_postgres_version(admin_url)),
        "packages": versions,
    }


def revision() -> dict[str, Any]:
    """The commit measured, and whether tracked files differed from it."""

    def git(*args: str) -> str | None:
        try:
            completed = subprocess.run(
                ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return completed.stdout.strip() if completed.returncode == 0 else None

    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": git("rev-parse", "HEAD"), "modified": bool(status) if status is not None else None}


def _ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}"


def _cpu(result: ScenarioResult) -> str:
    return " + ".join(f"{name} {_ms(ms)}" for name, ms in result.cpu_ms_per_request.items())


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _client_cpu(load: LoadResult) -> str:
    return f"{100 * load.client_cpu_s / load.duration_s:.0f}%"


HEADER = (
    f"{'scenario':<33} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'ceiling':>8} "
    f"{'load-gen CPU':>12} {'other CPU':>9}  server CPU ms/request"
)


def table_row(result: ScenarioResult) -> str:
    """One line of the printed table."""
    load = result.load
    return (
        f"{result.scenario:<33} {load.rps:>8.0f} {_ms(load.p50_ms):>8} {_ms(load.p99_ms):>8} {load.errors:>7} "
        f"{result.ratio_to_ceiling:>7.2f}x {_client_cpu(load):>12} {_share(result.contamination):>9}  {_cpu(result)}"
    )


def markdown_table(results: list[ScenarioResult]) -> str:
    """The figures as the Markdown table docs/PERFORMANCE.md carries."""
    lines = [
        "| Scenario | req/s | p50 ms | p99 ms | errors | × ceiling | load-gen CPU | server CPU ms/request |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for result in results:
        load = result.load
        lines.append(
            f"| {result.scenario} | {load.rps:.0f} | {_ms(load.p50_ms)} | {_ms(load.p99_ms)} | {load.errors} "
            f"| {result.ratio_to_ceiling:.2f} | {_client_cpu(load)} | {_cpu(result)} |"
        )
    return "\n".join(lines)


def rate_limit_costs(results: list[ScenarioResult]) -> dict[str, float]:
    """Throughput the rate limits cost, per path: 1 - (gateway with limits) / (the same without), same run."""
    rps = {result.scenario: result.load.rps for result in results}
    return {
        path: 1 - rps[on] / rps[off]
        for path, (on, off) in RATE_LIMIT_PAIRS.items()
        if rps.get(on) and rps.get(off)
    }


def median_table(rounds: list[list[ScenarioResult]]) -> str:
    """Each scenario's medians over the rounds, as Markdown; each round's ratio to its own ceiling."""
    lines = [
        "| Scenario | req/s | × ceiling | × ceiling, each round | server CPU ms/request | others' CPU, worst |",
        "|---|---:|---:|---|---|---:|",
    ]
    for index, first in enumerate(rounds[0]):
        runs = [results[index] for results in rounds]
        cpu = " + ".join(
            f"{name} {_ms(statistics.median(run.cpu_ms_per_request[name] for run in runs))}"
            for name in first.cpu_ms_per_request
        )
        shares = [run.contamination for run in runs if run.contamination is not None]
        lines.append(
            f"| {first.scenario} | {statistics.median(run.load.rps for run in runs):.0f} "
            f"| {statistics.median(run.ratio_to_ceiling for run in runs):.2f} "
            f"| {', '.join(f'{run.ratio_to_ceiling:.2f}' for run in runs)} | {cpu} "
            f"| {_share(max(shares) if shares else None)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Set everything up, measure each scenario, print the table and write the JSON results."""
    args = parse_args(argv)
    command = shlex.join(["python", "-m", "bench", *(sys.argv[1:] if argv is None else argv)])
    load = LOADERS[args.load]
    pin_process_settings(access_log=args.access_log)
    started = datetime.now(UTC)
    measured_revision = revision()
    log_dir = Path(tempfile.mkdtemp(prefix="ocop-bench-logs-"))
    access_log = "on" if args.access_log else "off"
    print(
        f"{command}: {args.load} load, {args.connections} connections, {args.warmup:g} s warm-up + "
        f"{args.duration:g} s per scenario, access log {access_log}; logs in {log_dir}"
    )
    failed = True
    try:
        with throwaway_database() as database, processes_under_test(database, log_dir) as processes:
            machine = environment(database.admin_url)
            # Sampled with every process up but idle, so whatever shows is someone else's work.
            busy = background_busy()
            machine["background_cpu_busy"] = busy
            if busy is not None and busy > BUSY_WARNING:
                print(f"warning: the machine is {busy:.0%} busy before any load; the figures will be low\n")
            product_id = create_product(processes["registry"].url, database)
            scenarios = select_scenarios(args.only)
            print(f"{len(scenarios)} scenarios, {args.rounds} round(s), reading product {product_id}\n")
            rounds: list[list[ScenarioResult]] = []
            for number in range(1, args.rounds + 1):
                print(HEADER if args.rounds == 1 else f"round {number} of {args.rounds}\n{HEADER}")
                rounds.append(
                    run_scenarios(
                        processes,
                        product_id,
                        dbadmin.database_of(database.admin_url),
                        load,
                        scenarios=scenarios,
                        connections=args.connections,
                        duration_s=args.duration,
                        warmup_s=args.warmup,
                        report=lambda result: print(table_row(result), flush=True),
                    )
                )
        failed = False
    finally:
        if failed:
            print(f"bench failed; process logs kept in {log_dir}", file=sys.stderr)
        else:
            # Access logs of a whole run are tens of MB and only useful when something went wrong.
            shutil.rmtree(log_dir, ignore_errors=True)

    results = [result for round_results in rounds for result in round_results]
    print("\n" + (markdown_table(results) if args.rounds == 1 else median_table(rounds)))
    # Each round's on and off were measured back to back: their ratio is paired, then the median taken.
    costs_by_round = [rate_limit_costs(round_results) for round_results in rounds]
    costs = {
        path: statistics.median(paired[path] for paired in costs_by_round if path in paired)
        for path in costs_by_round[0]
    }
    for path, cost in costs.items():
        each = ", ".join(f"{paired[path]:.1%}" for paired in costs_by_round if path in paired)
        print(
            f"rate limits cost {cost:.1%} of the gateway's throughput {path} (limits on vs off"
            + (f"; median of the rounds, each: {each})" if args.rounds > 1 else ", this run)")
        )
    errors = sum(result.load.errors for result in results)
    document = {
        "date": started.isoformat(timespec="seconds"),
        "command": command,
        "revision": measured_revision,
        "settings": {
            "load": args.load,
            "connections": args.connections,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "rounds": args.rounds,
            "only": args.only,
            "access_log": args.access_log,
            "uvicorn_workers_per_process": 1,
        },
        "machine": machine,
        "results": [
            {"round": number, **result.as_dict()}
            for number, results_of_round in enumerate(rounds, start=1)
            for result in results_of_round
        ],
        "rate_limit_cost": costs,
        "rate_limit_cost_by_round": costs_by_round,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print(f"\nresults written to {args.output}")
    contaminated = list(dict.fromkeys(r.scenario for r in results if (r.contamination or 0) > BUSY_WARNING))
    if contaminated:
        print(f"warning: other work used the CPUs during {', '.join(contaminated)}; rerun on an idle machine")
    if errors:
        print(f"{errors} requests failed: the figures are not trustworthy", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
