"""``python -m bench.scoring_aggregation``: a full round — 300 dossiers × 7 council members — scored
through the scoring service's HTTP API, in-process, with the figures of a raw asyncpg baseline.

Set-up (not measured): a throwaway migrated database; the registry and scoring apps in this process
(scoring reads the registry over HTTP on an in-process transport, with its service token, exactly as
the tests run them); a province council of 7 scorers (chair + 6 members) and a secretary; one open
round; 300 products of 30 producers, each with a dossier self-assessed, submitted (snapshot and
pin), pre-checked, found complete, assigned to the round and opened for scoring.

Measured: the 2,100 ``POST /v1/applications/{id}/scorecards`` (each its own request and transaction:
JWT check, validation, the card's arithmetic on the pinned sheet, the insert, the audit entry), in
council order — the 7 members of one dossier, then the next. The 7th card of each dossier also
aggregates the pass under the dossier's row lock (quorum, spread, means, stars, the result, the
state change and their audit entries), so the deciding cards' extra time is what aggregation costs.
``--concurrency N`` keeps N cards in flight (N = 7: one dossier's members at once, contending for
its row lock).

Baseline, in the same run on the same database: the same 2,100 card rows (the same choices, parts
and totals as JSON) written by raw asyncpg into a temporary copy of the scorecard table — once as
one COPY, once as 2,100 single-row INSERTs each committed on its own (the floor of one transaction
per card).

Results go to ``bench/results/scoring_aggregation.json``; the command exits non-zero unless every
dossier ends recognised with exactly one result and seven cards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

from bench.imports import BackendCpu
from bench.scenarios import throwaway_database
from services.scoring.criteria.arithmetic import SheetTree, score_card
from shared.db import asyncpg_dsn
from shared.dbadmin import database_of
from shared.topology import REPO_ROOT
from tests import builders
from tests.conftest import JWT_KID, test_jwks
from tests.support.database import TestDatabase
from tests.support.keys import rsa_pair

DEFAULT_OUTPUT = REPO_ROOT / "bench" / "results" / "scoring_aggregation.json"
PRODUCTS_PER_PRODUCER = 10
# Each member's target total: within 10 points of each other (no rescore), a 4★ average.
TARGETS = (72, 73, 74, 75, 76, 77, 78)
SCORERS = ("chu-tich", *(f"uy-vien-{number}" for number in range(1, 7)))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.scoring_aggregation", description=__doc__)
    parser.add_argument("--applications", type=int, default=300, help="dossiers in the round (default 300)")
    parser.add_argument(
        "--concurrency", type=int, default=1, help="scorecards in flight at once (default 1: one at a time)"
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results (default %(default)s)"
    )
    args = parser.parse_args(argv)
    if args.applications < 1 or args.concurrency < 1:
        parser.error("--applications and --concurrency must be >= 1")
    return args


@asynccontextmanager
async def apps(database: TestDatabase) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Clients of the registry and scoring apps on ``database``, scoring calling the registry in-process."""
    from services.registry.config import RegistrySettings
    from services.registry.main import create_app as create_registry
    from services.scoring.config import ScoringSettings
    from services.scoring.main import create_app as create_scoring

    # No access log and warnings only: the figures are the requests' work, not this terminal's.
    quiet: dict[str, Any] = {"environment": "test", "jwt_public_keys": test_jwks(), "access_log": False,
                             "log_level": "WARNING"}  # fmt: skip
    registry = create_registry(RegistrySettings(database_url=database.urls["registry"], **quiet))
    scoring = create_scoring(
        ScoringSettings(
            database_url=database.urls["scoring"], registry_url="http://registry",
            service_signing_key=rsa_pair()[0], service_key_id=JWT_KID, certificate_job_every_s=0, **quiet,
        ),
        registry_transport=httpx.ASGITransport(app=registry),
    )  # fmt: skip
    async with (
        registry.router.lifespan_context(registry),
        scoring.router.lifespan_context(scoring),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=registry), base_url="http://registry") as r,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=scoring), base_url="http://scoring") as s,
    ):
        yield r, s


@dataclass(frozen=True)
class Round:
    """The dossiers open for scoring, their council and the sheet they are pinned to."""

    dossiers: list[builders.Dossier]
    council: builders.Council
    tree: SheetTree


async def prepare(
    database: TestDatabase, registry: httpx.AsyncClient, scoring: httpx.AsyncClient, applications: int
) -> Round:
    """Producers, products and dossiers brought to an open scoring pass in one round of one council."""
    connection = await asyncpg.connect(asyncpg_dsn(database.urls["registry"]))
    try:
        return await _prepare(connection, registry, scoring, applications)
    finally:
        await connection.close()


async def _prepare(
    connection: asyncpg.Connection, registry: httpx.AsyncClient, scoring: httpx.AsyncClient, applications: int
) -> Round:
    unit = await builders.unit(connection, commune_name="Xã Đo Tải")
    council = await builders.council(scoring, province_code=unit.province_code, scorers=SCORERS)
    round_ = await builders.scoring_round(scoring, council)
    owners: list[builders.Producer] = []
    dossiers: list[builders.Dossier] = []
    tree: SheetTree | None = None
    for index in range(applications):
        if index % PRODUCTS_PER_PRODUCER == 0:
            owners.append(await builders.producer(registry, connection, unit))
        owner = owners[-1]
        product = await builders.product(registry, owner)
        body = {"product_id": str(product["id"]), "type": "new"}
        opened = await scoring.post("/v1/applications", json=body, headers=owner.headers)
        assert opened.status_code == 201, opened.text
        made = builders.Dossier(owner, product, opened.json())
        tree = tree or await builders.sheet(scoring, made.application["sheet_id"])
        await builders.self_assessed(scoring, made, builders.choices_for(tree))
        await builders.step(scoring, made, "submit", owner.headers)
        await builders.step(scoring, made, "precheck", owner.commune_officer, {"decision": "forward"})
        await builders.step(scoring, made, "completeness", owner.province_officer, {"decision": "eligible"})
        await builders.step(scoring, made, "assign", council.manager, {"round_id": round_["id"]})
        opened_pass = await builders.step(scoring, made, "start-scoring", council.manager)
        assert opened_pass["sheet_id"] == str(tree.sheet_id), (
            "every dossier of the round is pinned to one sheet"
        )
        dossiers.append(made)
    assert tree is not None
    return Round(dossiers, council, tree)


@dataclass
class Timings:
    """Wall and CPU figures of one measured phase."""

    cards: int
    wall_s: float
    process_cpu_s: float
    database_cpu_s: float
    recording_ms: list[float]  # cards that only record themselves
    deciding_ms: list[float]  # the 7th card of a dossier: records and aggregates

    def summary(self) -> dict[str, Any]:
        """The figures as JSON-ready data."""

        def stats(samples: list[float]) -> dict[str, float]:
            ordered = sorted(samples)
            return {
                "count": len(ordered),
                "mean_ms": statistics.fmean(ordered),
                "p50_ms": ordered[len(ordered) // 2],
                "p95_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))],
                "max_ms": ordered[-1],
            }

        return {
            "cards": self.cards,
            "wall_s": self.wall_s,
            "cards_per_s": self.cards / self.wall_s,
            "process_cpu_s": self.process_cpu_s,
            "database_cpu_s": self.database_cpu_s,
            "every_card": stats(self.recording_ms + self.deciding_ms),
            "recording_card": stats(self.recording_ms),
            "deciding_card": stats(self.deciding_ms),
            "aggregation_extra_ms": statistics.fmean(self.deciding_ms) - statistics.fmean(self.recording_ms),
        }


async def score_round(
    scoring: httpx.AsyncClient, round_: Round, database_name: str, concurrency: int
) -> Timings:
    """Every member's card on every dossier, in council order, ``concurrency`` in flight."""
    choices = [builders.choices_for(round_.tree, target) for target in TARGETS]
    queue: asyncio.Queue[tuple[builders.Dossier, int]] = asyncio.Queue()
    for made in round_.dossiers:
        for index in range(len(SCORERS)):
            queue.put_nowait((made, index))
    recording: list[float] = []
    deciding: list[float] = []
    headers = [round_.council.member(sub) for sub in SCORERS]

    async def scorer() -> None:
        while not queue.empty():
            made, index = queue.get_nowait()
            started = time.perf_counter()
            answer = await scoring.post(
                f"{made.url}/scorecards", json={"choices": choices[index]}, headers=headers[index]
            )
            elapsed = (time.perf_counter() - started) * 1000
            assert answer.status_code == 201, answer.text
            (deciding if index == len(SCORERS) - 1 else recording).append(elapsed)

    with BackendCpu(database_name) as backends:
        backends_before, cpu_before, wall_before = backends.sample(), time.process_time(), time.perf_counter()
        await asyncio.gather(*(scorer() for _ in range(concurrency)))
        wall, cpu = time.perf_counter() - wall_before, time.process_time() - cpu_before
        database_cpu = backends.sample() - backends_before
    return Timings(len(recording) + len(deciding), wall, cpu, database_cpu, recording, deciding)


async def check_outcome(database: TestDatabase, applications: int) -> dict[str, int]:
    """Counts of what the round left: one result per dossier, every dossier recognised, seven cards each."""
    connection = await asyncpg.connect(asyncpg_dsn(database.urls["scoring"]))
    try:
        row = await connection.fetchrow(
            """SELECT (SELECT count(*) FROM scoring.result) AS results,
                      (SELECT count(*) FROM scoring.result WHERE star = 4 AND outcome = 'recognised') AS four_stars,
                      (SELECT count(*) FROM scoring.scorecard) AS cards,
                      (SELECT count(*) FROM scoring.application WHERE status = 'recognised') AS recognised"""
        )
    finally:
        await connection.close()
    counts = dict(row)
    expected = {"results": applications, "four_stars": applications, "cards": applications * len(SCORERS),
                "recognised": applications}  # fmt: skip
    if counts != expected:
        raise SystemExit(f"the round did not end as expected: {counts} (expected {expected})")
    return counts


def card_rows(round_: Round) -> list[tuple[Any, ...]]:
    """The measured cards' rows (the same choices, parts, totals) for the baseline, with fresh ids."""
    rows = []
    scores = [score_card(round_.tree, builders.choices_for(round_.tree, target)) for target in TARGETS]
    choices = [builders.choices_for(round_.tree, target) for target in TARGETS]
    round_id, member_id = uuid.uuid4(), uuid.uuid4()
    for made in round_.dossiers:
        for index, sub in enumerate(SCORERS):
            score = scores[index]
            rows.append((
                uuid.uuid4(), uuid.UUID(made.id), 1, round_id, member_id, sub, "member",
                orjson.dumps(choices[index]).decode(),
                orjson.dumps({part: str(value) for part, value in score.parts.items()}).decode(),
                Decimal(score.total), "[]", "[]", datetime.now(UTC),
            ))  # fmt: skip
    return rows


COLUMNS = [
    "id", "application_id", "pass_number", "round_id", "member_id", "member_sub", "member_role", "choices",
    "parts", "total", "mandatory_failed", "eliminated", "created_at",
]  # fmt: skip


async def baseline(database: TestDatabase, rows: list[tuple[Any, ...]]) -> dict[str, float]:
    """The same card rows written by raw asyncpg into a temporary copy of the scorecard table."""
    connection = await asyncpg.connect(asyncpg_dsn(database.urls["scoring"]))
    try:
        await connection.execute("CREATE TEMP TABLE bench_card (LIKE scoring.scorecard INCLUDING DEFAULTS)")
        started = time.perf_counter()
        await connection.copy_records_to_table("bench_card", records=rows, columns=COLUMNS)
        copy_s = time.perf_counter() - started
        await connection.execute("TRUNCATE bench_card")
        insert = (
            f"INSERT INTO bench_card ({', '.join(COLUMNS)}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, "
            "$9::jsonb, $10, $11::jsonb, $12::jsonb, $13)"
        )
        statement = await connection.prepare(insert)
        started = time.perf_counter()
        for row in rows:  # autocommit: one transaction per card, as the API commits each card
            await statement.fetch(*row)
        inserts_s = time.perf_counter() - started
        assert await connection.fetchval("SELECT count(*) FROM bench_card") == len(rows)
    finally:
        await connection.close()
    return {"copy_s": copy_s, "single_row_inserts_s": inserts_s}


async def run(database: TestDatabase, args: argparse.Namespace) -> dict[str, Any]:
    """Set up the round, score it, check it, measure the baseline."""
    async with apps(database) as (registry, scoring):
        started = time.perf_counter()
        round_ = await prepare(database, registry, scoring, args.applications)
        print(
            f"set-up: {args.applications} dossiers open for scoring in {time.perf_counter() - started:.1f} s"
        )
        timings = await score_round(scoring, round_, database_of(database.admin_url), args.concurrency)
    outcome = await check_outcome(database, args.applications)
    figures = await baseline(database, card_rows(round_))
    return {"api": timings.summary(), "outcome": outcome, "baseline": figures}


def report(results: dict[str, Any], concurrency: int) -> str:
    """The figures as the Markdown table docs/PERFORMANCE.md carries.

    Only one card at a time tells the deciding card apart: with several in flight the 7th member's card
    is not always the last to arrive, and the latencies include waiting for the others.
    """
    api, base = results["api"], results["baseline"]
    every, recording, deciding = api["every_card"], api["recording_card"], api["deciding_card"]
    split = [
        f"| API: cards that only record | {recording['count']} | | | {recording['mean_ms']:.1f} | "
        f"{recording['p50_ms']:.1f} | {recording['p95_ms']:.1f} |",
        f"| API: deciding cards (record + aggregate) | {deciding['count']} | | | {deciding['mean_ms']:.1f} | "
        f"{deciding['p50_ms']:.1f} | {deciding['p95_ms']:.1f} |",
    ]  # fmt: skip
    return "\n".join([
        "| what | cards | total s | cards/s | mean ms | p50 ms | p95 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| API: every card ({concurrency} in flight) | {api['cards']} | {api['wall_s']:.1f} | {api['cards_per_s']:.0f} | "
        f"{every['mean_ms']:.1f} | {every['p50_ms']:.1f} | {every['p95_ms']:.1f} |",
        *(split if concurrency == 1 else []),
        f"| baseline: one COPY | {api['cards']} | {base['copy_s']:.2f} | {api['cards'] / base['copy_s']:.0f} | | | |",
        f"| baseline: single-row INSERTs, one commit each | {api['cards']} | {base['single_row_inserts_s']:.2f} | "
        f"{api['cards'] / base['single_row_inserts_s']:.0f} | {1000 * base['single_row_inserts_s'] / api['cards']:.2f} | | |",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the bench, print the table, write the JSON results."""
    args = parse_args(argv)
    command = shlex.join(
        ["python", "-m", "bench.scoring_aggregation", *(sys.argv[1:] if argv is None else argv)]
    )
    print(f"{command}: {args.applications} dossiers × {len(SCORERS)} members, {args.concurrency} in flight")
    started = datetime.now(UTC)
    with throwaway_database() as database:
        results = asyncio.run(run(database, args))
    api = results["api"]
    aggregation = (
        f"; aggregation adds {api['aggregation_extra_ms']:.1f} ms to a dossier's last card"
        if args.concurrency == 1
        else ""
    )
    print(
        f"\n{api['cards']} scorecards in {api['wall_s']:.1f} s ({api['cards_per_s']:.0f}/s){aggregation}; this process "
        f"used {api['process_cpu_s']:.1f} s of CPU, PostgreSQL {api['database_cpu_s']:.1f} s\n"
    )
    print(report(results, args.concurrency))
    document = {
        "date": started.isoformat(timespec="seconds"),
        "command": command,
        "cpus": os.cpu_count(),
        "settings": {"applications": args.applications, "members": len(SCORERS), "concurrency": args.concurrency,
                     "targets": TARGETS, "through": "scoring HTTP API in-process (httpx ASGITransport)"},
        **results,
    }  # fmt: skip
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
    print(f"\nresults written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
