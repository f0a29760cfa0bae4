"""``python -m bench.catalogue``: the public catalogue over 20,000 products and 8,000 entities.

1. A throwaway database gets the reference units (Quảng Ninh) plus 33 generated provinces, then
   8,000 entities and 20,000 products bulk-loaded with COPY: about 60 % certified with an active
   certificate (3★ 73 %, 4★ 24 %, 5★ 3 %, a third of those national), a few certified products whose
   certificate ran out last month, the rest spread over the cycle's other states.
2. Latency: a set of filtered catalogue searches (filters, diacritic-free text search, every sort,
   a second page, a single record) sent one at a time to the registry itself, round-robin for a
   bounded number of rounds; p50/p95/p99 per search and overall. The target is p95 ≤ 20 ms.
3. Throughput: one catalogue search under closed-loop load (the bench's load generator), directly on
   the registry and through the gateway, as a ratio to the bare-FastAPI ceiling measured in the same
   run, with the CPU each process spent per request.

Every request goes to 127.0.0.1 and every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shlex
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import asyncpg
import httpx

from bench.__main__ import environment, revision
from bench.cpu import CpuMeter, background_busy
from bench.load import LOADERS, LOOPBACK, LoadResult, percentile, require_loopback, wrk_available
from bench.scenarios import BASELINE, SETTLE_S, pin_process_settings, processes_under_test, throwaway_database
from services.registry.commands.seed import seed
from services.registry.demo import names
from services.registry.demo.generator import load_templates
from services.registry.products.classification import classify
from services.registry.products.identifiers import product_code
from shared import clock, dbadmin
from shared.db import asyncpg_dsn
from shared.text import fold
from shared.topology import REPO_ROOT

DEFAULT_OUTPUT = REPO_ROOT / "bench" / "results" / "catalogue.json"
P95_TARGET_MS = 20.0
TODAY = clock.today()

PROVINCES = 33
COMMUNES_PER_PROVINCE = 40
ENTITY_TYPES = {
    "cooperative": 0.33,
    "enterprise": 0.24,
    "household_business": 0.40,
    "cooperative_group": 0.03,
}
# Shares of the other states among products not in the catalogue.
OTHER_STATES = {
    "idea": 0.2,
    "business_plan": 0.2,
    "implementing": 0.2,
    "ready_for_evaluation": 0.2,
    "lapsed": 0.2,
}
PLACE_WORDS = (
    "An",
    "Bình",
    "Phú",
    "Tân",
    "Hòa",
    "Thạnh",
    "Long",
    "Mỹ",
    "Hưng",
    "Phước",
    "Thuận",
    "Đông",
    "Tây",
    "Nam",
    "Bắc",
    "Trung",
    "Sơn",
    "Hải",
    "Lộc",
    "Vĩnh",
    "Quang",
    "Minh",
    "Đức",
    "Thành",
    "Xuân",
    "Hà",
)


@dataclass(frozen=True)
class Sizes:
    """How much data the bench loads."""

    entities: int
    products: int


def _place_name(rng: random.Random) -> str:
    return f"{rng.choice(PLACE_WORDS)} {rng.choice(PLACE_WORDS)}"


def _units(rng: random.Random) -> tuple[list[tuple[Any, ...]], list[tuple[str, str, str]]]:
    """Generated provinces and communes (codes no reference unit uses), and each commune's place."""
    rows: list[tuple[Any, ...]] = []
    communes: list[tuple[str, str, str]] = []
    for index in range(PROVINCES):
        province = str(60 + index)
        name = f"Bench {_place_name(rng)}"
        rows.append((province, name, fold(name), "province", "tỉnh", None, province))
        for number in range(COMMUNES_PER_PROVINCE):
            code = f"{60000 + index * 100 + number:05d}"
            commune = _place_name(rng)
            rows.append((code, commune, fold(commune), "commune", "xã", province, province))
            communes.append((code, province, commune))
    return rows, communes


def _person(rng: random.Random) -> tuple[str, str, str]:
    ethnicity = rng.choices(["Kinh", "Tày", "Dao", "Sán Dìu", "Sán Chỉ"], [0.85, 0.05, 0.05, 0.03, 0.02])[0]
    gender = "female" if rng.random() < names.FEMALE_SHARE else "male"
    family = rng.choice(names.FAMILY_NAMES[ethnicity])
    name = f"{family} {rng.choice(names.MIDDLE_NAMES[gender])} {rng.choice(names.GIVEN_NAMES[gender])}"
    return name, gender, ethnicity


def _legal_name(rng: random.Random, entity_type: str, person: str, place: str, index: int) -> str:
    trade = rng.choice(names.TRADE_NAMES)
    if entity_type == "enterprise":
        return f"{rng.choice(names.COMPANY_FORMS)} {rng.choice(names.ACTIVITIES['enterprise']['food'])} {trade} {index}"
    if entity_type == "cooperative":
        return f"Hợp tác xã {rng.choice(names.ACTIVITIES['cooperative']['food'])} {place} {index}"
    if entity_type == "cooperative_group":
        return f"Tổ hợp tác {rng.choice(names.ACTIVITIES['cooperative_group']['food'])} {place} {index}"
    return f"Hộ kinh doanh {person} {index}"


def _certificate(rng: random.Random, serial: int) -> tuple[Any, ...]:
    star = rng.choices([3, 4, 5], [0.73, 0.24, 0.03])[0]
    level = "central" if star == 5 and rng.random() < 1 / 3 else "province"
    issued = TODAY - timedelta(days=rng.randint(0, 3 * 365 - 2))
    return (
        star,
        f"BENCH-{issued.year}-{serial:06d}",
        issued,
        issued + timedelta(days=3 * 365),
        "active",
        level,
    )


async def bulk_load(admin_url: str, sizes: Sizes, seed_value: int = 20261128) -> dict[str, int]:
    """Generate and COPY the units, entities and products; returns what was written."""
    rng = random.Random(seed_value)
    unit_rows, communes = _units(rng)
    templates = load_templates()
    weights = [template.weight for template in templates]
    connection = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        async with connection.transaction():
            await connection.copy_records_to_table(
                "admin_unit",
                schema_name="registry",
                records=unit_rows,
                columns=["code", "name", "name_folded", "level", "unit_type", "parent_code", "province_code"],
            )
            unit_ids = dict(
                await connection.fetch(
                    "SELECT code, id FROM registry.admin_unit WHERE code = ANY($1::text[])",
                    [code for code, _, _ in communes],
                )
            )
            entities: list[tuple[Any, ...]] = []
            owners: list[tuple[uuid.UUID, str, str, str]] = []
            kinds, kind_weights = list(ENTITY_TYPES), list(ENTITY_TYPES.values())
            for index in range(sizes.entities):
                code, province, place = rng.choice(communes)
                entity_type = rng.choices(kinds, kind_weights)[0]
                person, gender, ethnicity = _person(rng)
                legal_name = _legal_name(rng, entity_type, person, place, index)
                entity_id = uuid.UUID(int=rng.getrandbits(128), version=4)
                entities.append(
                    (
                        entity_id,
                        entity_type,
                        legal_name,
                        fold(legal_name),
                        f"98{index:08d}",
                        person,
                        gender,
                        ethnicity,
                        f"{rng.choice(names.VILLAGES)}, xã {place}",
                        unit_ids[code],
                        code,
                        province,
                        f"09{rng.randint(10_000_000, 99_999_999)}",
                    )
                )
                owners.append((entity_id, code, province, place))
            await connection.copy_records_to_table(
                "entity",
                schema_name="registry",
                records=entities,
                columns=[
                    "id",
                    "entity_type",
                    "legal_name",
                    "name_folded",
                    "tax_code",
                    "representative_name",
                    "representative_gender",
                    "representative_ethnicity",
                    "address",
                    "admin_unit_id",
                    "commune_code",
                    "province_code",
                    "phone",
                ],
            )
            products: list[tuple[Any, ...]] = []
            states: Counter[str] = Counter()
            sequence: Counter[str] = Counter()
            others, other_weights = list(OTHER_STATES), list(OTHER_STATES.values())
            for index in range(sizes.products):
                # The first pass gives every entity a product; the rest go to random entities.
                entity_id, code, province, place = (
                    owners[index] if index < len(owners) else rng.choice(owners)
                )
                template = rng.choices(templates, weights)[0]
                name = f"{template.name.format(district=place, commune=place)} {index}"
                group, sector = classify(template.product_set, "148")
                sequence[code] += 1
                draw = rng.random()
                certificate: tuple[Any, ...] = (None,) * 6
                if draw < 0.60:
                    status, certificate = "certified", _certificate(rng, index)
                elif draw < 0.61:
                    # Certified, but the certificate ran out and no one has marked it yet.
                    status, certificate = "certified", _certificate(rng, index)
                    issued = TODAY - timedelta(days=3 * 365 + 30)
                    certificate = (
                        *certificate[:2],
                        issued,
                        issued + timedelta(days=3 * 365),
                        "active",
                        certificate[5],
                    )
                else:
                    status = rng.choices(others, other_weights)[0]
                    if status == "lapsed":
                        certificate = _certificate(rng, index)
                        certificate = (*certificate[:4], rng.choice(["expired", "revoked"]), certificate[5])
                states["in catalogue" if draw < 0.60 else status] += 1
                products.append(
                    (
                        uuid.UUID(int=rng.getrandbits(128), version=4),
                        entity_id,
                        product_code(province, code, sequence[code], 2026),
                        name,
                        fold(name),
                        template.description.format(district=place, commune=place),
                        "148",
                        template.product_set,
                        group,
                        sector,
                        status,
                        code,
                        province,
                        *certificate,
                    )
                )
            await connection.copy_records_to_table(
                "product",
                schema_name="registry",
                records=products,
                columns=[
                    "id",
                    "entity_id",
                    "product_code",
                    "name",
                    "name_folded",
                    "description",
                    "classification",
                    "product_set",
                    "product_group",
                    "sector",
                    "status",
                    "commune_code",
                    "province_code",
                    "ocop_star",
                    "certificate_number",
                    "certificate_issued_on",
                    "certificate_expires_on",
                    "certificate_status",
                    "certificate_level",
                ],
            )
        # The state autovacuum keeps a live database in: statistics, the visibility map, and above all
        # the GIN indexes' pending lists merged (a bulk load leaves them full, and every trigram
        # search then reads them through).
        await connection.execute("VACUUM ANALYZE registry.admin_unit, registry.entity, registry.product")
    finally:
        await connection.close()
    return {"entities": len(entities), "products": len(products), **dict(states)}


# --- latency -------------------------------------------------------------------------------------


def searches(registry_url: str) -> dict[str, str]:
    """The filtered searches measured, by name; a second page and a single record are added later."""
    query: dict[str, list[tuple[str, Any]]] = {
        "all, by name": [],
        "province": [("province", "61")],
        "province + group + min_star": [("province", "61"), ("group", "food"), ("min_star", 4)],
        "commune": [("commune", "61005")],
        "star 4 or 5, by -star": [("star", 4), ("star", 5), ("sort", "-star")],
        "entity type + group, by -issued_on": [
            ("entity_type", "cooperative"),
            ("group", "beverages"),
            ("sort", "-issued_on"),
        ],
        "national 5★": [("is_national", "true")],
        "product set 8, by -star": [("product_set", 8), ("sort", "-star")],
        "q 'ruou ba kich' (relevance)": [("q", "ruou ba kich")],
        "q 'cha muc' + province": [("q", "cha muc"), ("province", "62")],
        "q 'mat ong' + min_star, by -issued_on": [("q", "mat ong"), ("min_star", 3), ("sort", "-issued_on")],
        "q 'huong bien' (a producer's name)": [("q", "huong bien")],
        "q 'hop tac xa' (every cooperative), by name": [("q", "hop tac xa"), ("sort", "name")],
        "q 'Rượu' + province, by -star": [("q", "Rượu"), ("province", "63"), ("sort", "-star")],
    }
    return {
        name: f"{registry_url}/v1/catalogue?{urlencode([('limit', 20), *params])}"
        for name, params in query.items()
    }


def add_second_page_and_record(urls: dict[str, str]) -> dict[str, str]:
    """Follow one search's cursor and pick one record, so paging and the public record are measured too."""
    first = httpx.get(urls["province"], timeout=10).json()
    if not first["items"] or not first["next_cursor"]:
        raise RuntimeError("the province search returned a single page: the data did not load")
    page_two = f"{urls['province']}&{urlencode({'cursor': first['next_cursor']})}"
    registry = urls["province"].split("/v1/")[0]
    return {
        **urls,
        "province, page 2": page_two,
        "public record": f"{registry}/v1/catalogue/{first['items'][0]['id']}",
    }


@dataclass(frozen=True)
class LatencyResult:
    """Latencies of one search (or of all of them), in ms."""

    name: str
    requests: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    items: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return self.__dict__.copy()


def _summary(name: str, samples: list[float], items: int) -> LatencyResult:
    ordered = sorted(samples)
    return LatencyResult(
        name,
        len(ordered),
        percentile(ordered, 50),
        percentile(ordered, 95),
        percentile(ordered, 99),
        ordered[-1],
        items,
    )


async def _measure_latency(
    urls: dict[str, str], rounds: int, warmup_rounds: int, limit_s: float
) -> list[LatencyResult]:
    for url in urls.values():
        require_loopback(url)
    samples: dict[str, list[float]] = {name: [] for name in urls}
    items: dict[str, int] = {}
    deadline = time.perf_counter() + limit_s
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        for round_number in range(warmup_rounds + rounds):
            if time.perf_counter() > deadline:
                break
            for name, url in urls.items():
                sent = time.perf_counter()
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=10)) as response:
                    body = await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"{name}: {url} answered {response.status}: {body[:300]!r}")
                elapsed_ms = (time.perf_counter() - sent) * 1000
                if round_number >= warmup_rounds:
                    samples[name].append(elapsed_ms)
                    items[name] = len(json.loads(body).get("items", [0]))
    results = [_summary(name, values, items[name]) for name, values in samples.items() if values]
    everything = [value for values in samples.values() for value in values]
    return [*results, _summary("all searches", everything, 0)]


def measure_latency(urls: dict[str, str], rounds: int, limit_s: float) -> list[LatencyResult]:
    """Each search ``rounds`` times, one request at a time (after 3 unmeasured rounds)."""
    return asyncio.run(_measure_latency(urls, rounds, 3, limit_s))


# --- throughput ----------------------------------------------------------------------------------


@dataclass
class ThroughputResult:
    """One load run and its ratio to the ceiling."""

    scenario: str
    load: LoadResult
    ratio_to_ceiling: float
    cpu_ms_per_request: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "scenario": self.scenario,
            **self.load.as_dict(),
            "ratio_to_ceiling": self.ratio_to_ceiling,
            "cpu_ms_per_request": self.cpu_ms_per_request,
        }


def measure_throughput(
    processes: dict[str, Any], search: str, database: str, args: argparse.Namespace
) -> list[ThroughputResult]:
    """The ceiling, the search on the registry, the same search through the gateway."""
    ceiling_url = f"{processes[BASELINE].url}/v1/catalogue/{uuid.uuid4()}"
    scenarios = [
        ("bare FastAPI (ceiling)", ceiling_url, (BASELINE,), False),
        ("catalogue search, registry direct", f"{processes['registry'].url}{search}", ("registry",), True),
        (
            "catalogue search via gateway",
            f"{processes['gateway'].url}{search}",
            ("gateway", "registry"),
            True,
        ),
    ]
    load = LOADERS[args.load]
    results: list[ThroughputResult] = []
    for name, url, cpu_of, reads_database in scenarios:
        if httpx.get(url, timeout=10).status_code != 200:
            raise RuntimeError(f"{name}: {url} does not answer 200")
        meter = CpuMeter({process: processes[process].process.pid for process in cpu_of}, database)
        measured = load(
            url, connections=args.connections, duration_s=args.duration, warmup_s=args.warmup, on_window=meter
        )
        used = {**meter.server_s, **({"postgres": meter.postgres_s} if reads_database else {})}
        ceiling = results[0].load.rps if results else measured.rps
        results.append(
            ThroughputResult(
                name,
                measured,
                measured.rps / ceiling if ceiling else float("nan"),
                {
                    k: v * 1000 / measured.requests if measured.requests else float("nan")
                    for k, v in used.items()
                },
            )
        )
        cpu = " + ".join(f"{process} {ms:.2f}" for process, ms in results[-1].cpu_ms_per_request.items())
        print(
            f"  {name:<36} {measured.rps:>8.0f} req/s  p50 {measured.p50_ms:6.2f} ms  p99 {measured.p99_ms:7.2f} ms"
            f"  errors {measured.errors}  {results[-1].ratio_to_ceiling:.2f}x ceiling  CPU ms/request: {cpu}",
            flush=True,
        )
        time.sleep(SETTLE_S)
    return results


# --- the command ---------------------------------------------------------------------------------

THROUGHPUT_SEARCH = "/v1/catalogue?" + urlencode(
    {"province": "61", "group": "food", "min_star": 4, "limit": 20}
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.catalogue", description=__doc__.split("\n")[0])
    parser.add_argument("--entities", type=int, default=8000)
    parser.add_argument("--products", type=int, default=20000)
    parser.add_argument(
        "--rounds", type=int, default=100, help="latency rounds over every search (default 100)"
    )
    parser.add_argument("--latency-limit", type=float, default=120.0, help="stop the latency rounds after s")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per load run")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--load", choices=sorted(LOADERS), default="python")
    parser.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if min(args.entities, args.products, args.rounds, args.connections) < 1 or args.products < args.entities:
        parser.error(
            "sizes, --rounds and --connections must be positive, with at least one product per entity"
        )
    if args.load == "wrk" and not wrk_available():
        parser.error("--load wrk: wrk is not installed (Debian: apt-get install wrk)")
    return args


def _print_latency(results: list[LatencyResult]) -> None:
    print(f"  {'search':<42} {'n':>5} {'items':>5} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}")
    for result in results:
        print(
            f"  {result.name:<42} {result.requests:>5} {result.items:>5} {result.p50_ms:>7.2f} "
            f"{result.p95_ms:>7.2f} {result.p99_ms:>7.2f} {result.max_ms:>7.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    """Load the data, measure latency and throughput, print and write the figures."""
    args = parse_args(argv)
    command = shlex.join(["python", "-m", "bench.catalogue", *(sys.argv[1:] if argv is None else argv)])
    sizes = Sizes(args.entities, args.products)
    pin_process_settings(access_log=args.access_log)
    started = datetime.now(UTC)
    log_dir = Path(tempfile.mkdtemp(prefix="ocop-bench-catalogue-logs-"))
    print(f"{command}: {sizes.entities} entities, {sizes.products} products; logs in {log_dir}", flush=True)
    with throwaway_database() as database:
        began = time.perf_counter()
        asyncio.run(seed(database.urls["registry"], demo=False))
        loaded = asyncio.run(bulk_load(database.admin_url, sizes))
        print(f"loaded in {time.perf_counter() - began:.1f} s: {loaded}", flush=True)
        with processes_under_test(database, log_dir) as processes:
            machine = environment(database.admin_url)
            machine["background_cpu_busy"] = background_busy()
            urls = add_second_page_and_record(searches(processes["registry"].url))
            print(f"\nlatency, one request at a time on the registry ({LOOPBACK}):", flush=True)
            latency = measure_latency(urls, args.rounds, args.latency_limit)
            _print_latency(latency)
            print(f"\nthroughput of {THROUGHPUT_SEARCH}, {args.connections} connections, {args.load} load:")
            throughput = measure_throughput(
                processes, THROUGHPUT_SEARCH, dbadmin.database_of(database.admin_url), args
            )
    shutil.rmtree(log_dir, ignore_errors=True)
    overall = latency[-1]
    verdict = "meets" if overall.p95_ms <= P95_TARGET_MS else "MISSES"
    print(f"\np95 over all searches {overall.p95_ms:.2f} ms: {verdict} the {P95_TARGET_MS:g} ms target")
    document = {
        "date": started.isoformat(timespec="seconds"),
        "command": command,
        "revision": revision(),
        "machine": machine,
        "data": loaded,
        "p95_target_ms": P95_TARGET_MS,
        "latency": [result.as_dict() for result in latency],
        "throughput": {"search": THROUGHPUT_SEARCH, "results": [result.as_dict() for result in throughput]},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
    print(f"results written to {args.output}")
    errors = sum(result.load.errors for result in throughput)
    if errors:
        print(f"{errors} requests failed: the throughput figures are not trustworthy", file=sys.stderr)
    return 0 if overall.p95_ms <= P95_TARGET_MS and not errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
