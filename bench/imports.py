"""``python -m bench.imports``: 100,000-row imports and exports through HTTP, with the registry's peak memory.

Generates an entities CSV, a products CSV (one product per entity) and the same entities as an
XLSX workbook on disk; starts a real registry process on a throwaway database; uploads each file
through HTTP and polls the job to the end, sampling the registry process's resident memory all the
while (psutil), and reads the kernel's high-water mark (VmHWM) at the end. It also counts the CPU
seconds of the registry process and of the PostgreSQL backends of its database during each import,
which a busy machine disturbs far less than wall time. The XLSX run re-imports the entities the CSV
created, so it also shows that 100,000 unchanged rows change nothing. Then a fresh registry process
(so the imports' memory does not count) exports the 100,000 products as CSV and XLSX and the entities
as XLSX, each downloaded to disk, with the same memory measurements.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import shlex
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import openpyxl
import psutil

from bench.load import require_loopback
from bench.scenarios import throwaway_database
from shared.db import asyncpg_dsn
from shared.dbadmin import database_of
from shared.security.jwt import TokenSigner
from shared.security.keys import generate_rsa_pair, jwks
from shared.security.principal import Principal, Role
from shared.text import fold
from shared.topology import REGISTRY, REPO_ROOT
from tests.builders import ENTITY_COLUMNS, PRODUCT_COLUMNS
from tests.support.processes import RunningProcess, free_port, start_process, stop, wait_until_healthy

DEFAULT_OUTPUT = REPO_ROOT / "bench" / "results" / "imports.json"
REFERENCE_UNITS = REPO_ROOT / "services" / "registry" / "reference" / "admin-units-2025.csv"
PEAK_RSS_LIMIT_MB = 500
EXPORT_PEAK_RSS_LIMIT_MB = 300
EXPORTS = (("products", "csv"), ("products", "xlsx"), ("entities", "xlsx"))
SAMPLE_INTERVAL_S = 0.05
BACKEND_SAMPLE_INTERVAL_S = 0.5
POLL_INTERVAL_S = 0.5
JOB_TIMEOUT_S = 1800
KID = "bench-imports"
ISSUER, AUDIENCE = "ocop-gateway", "ocop-platform"
MIB = 1024 * 1024

ENTITY_TYPES = ("cooperative", "enterprise", "cooperative_group", "household_business")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.imports", description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000, help="rows per file (default 100,000)")
    parser.add_argument(
        "--xlsx",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also re-import as XLSX (default on)",
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results (default %(default)s)"
    )
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be >= 1")
    return args


# Test data


def read_communes() -> list[tuple[str, str, str]]:
    """The communes of the shipped Quảng Ninh list (code, name, type), valid from 1 July 2025."""
    with REFERENCE_UNITS.open(encoding="utf-8-sig", newline="") as file:
        return [(r["code"], r["name"], r["type"]) for r in csv.DictReader(file) if r["level"] == "commune"]


async def insert_units(admin_url: str, communes: list[tuple[str, str, str]]) -> None:
    """Province 22 and its communes as units valid today (the registry's admin-unit loader is not needed)."""
    connection = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        await connection.execute(
            """INSERT INTO registry.admin_unit (code, name, name_folded, level, unit_type, province_code, valid_from)
               VALUES ('22', 'Quảng Ninh', 'quang ninh', 'province', 'tỉnh', '22', '2025-07-01')
               ON CONFLICT DO NOTHING"""
        )
        await connection.executemany(
            """INSERT INTO registry.admin_unit
                   (code, name, name_folded, level, unit_type, parent_code, province_code, valid_from)
               VALUES ($1, $2, $3, 'commune', $4, '22', '22', '2025-07-01') ON CONFLICT DO NOTHING""",
            [(code, name, fold(name), unit_type) for code, name, unit_type in communes],
        )
    finally:
        await connection.close()


def tax_code(index: int) -> str:
    """A well-formed 10-digit tax code (MST) per row."""
    return f"57{index:08d}"


def gtin13(index: int) -> str:
    """A GS1 Vietnam GTIN-13 with its check digit."""
    body = f"893{index:09d}"
    total = sum(int(digit) * (3 if position % 2 else 1) for position, digit in enumerate(body))
    return body + str((10 - total % 10) % 10)


def entity_values(index: int, communes: list[tuple[str, str, str]]) -> list[Any]:
    """One entity row, Vietnamese text included."""
    code, name, unit_type = communes[index % len(communes)]
    return [
        ENTITY_TYPES[index % len(ENTITY_TYPES)], f"Hợp tác xã Nông sản {name} số {index}", tax_code(index),
        f"22G{index:07d}", "2020-05-17", f"Phòng Tài chính – Kế hoạch {unit_type} {name}",
        "Nguyễn Thị Hường", "female", "Kinh", f"Thôn Đông, {unit_type} {name}, tỉnh Quảng Ninh", code,
        "0203 3826 123", f"htx{index}@example.vn", "https://htx.example.vn", str(10 + index % 90),
        str(5 + index % 40), "12.50", "VietGAP; HACCP", "8938505",
    ]  # fmt: skip


def product_values(index: int) -> list[Any]:
    """One product row of entity ``index``."""
    return [
        tax_code(index), f"Rượu ba kích Ba Chẽ lô {index}", "Morinda wine",
        "Rượu ngâm củ ba kích tím Ba Chẽ, đóng chai 500 ml, nồng độ 29%.",
        "Người Dao ở Ba Chẽ ngâm ba kích từ bao đời; mỗi chai qua sáu tháng ủ.", str(1 + index % 26), "148",
        gtin13(index), f"SP-{index:06d}",
    ]  # fmt: skip


def write_csv(path: Path, columns: list[str], rows: Any) -> None:
    """Write a CSV file row by row, as Excel's "CSV UTF-8" (with BOM)."""
    with path.open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        writer.writerows(rows)


def write_xlsx(path: Path, columns: list[str], rows: Any) -> None:
    """Write a one-sheet workbook row by row (openpyxl write-only mode)."""
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("entities")
    sheet.append(columns)
    for row in rows:
        sheet.append(row)
    workbook.save(path)


# Measuring


class MemorySampler:
    """Samples a process's resident set size in a thread; keeps the peak since the last reset."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(SAMPLE_INTERVAL_S)

    def current(self) -> int:
        """The resident set size now."""
        return int(self.process.memory_info().rss)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the process has used so far: less sensitive to a busy machine than wall time."""
        times = self.process.cpu_times()
        return float(times.user + times.system)

    def reset(self) -> None:
        """Start a new peak from the current size."""
        self.peak = self.current()

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


class BackendCpu:
    """CPU time of the PostgreSQL backends serving one database, sampled in a thread.

    A backend's title names its database ("postgres: role db host state"); the last reading of each
    backend is kept, so one that exits still counts. The sum is what the database did for the registry.
    """

    def __init__(self, database: str) -> None:
        self.database = database
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> float:
        """Read every backend of the database now; the total CPU seconds so far."""
        for process in psutil.process_iter(["pid", "cmdline", "cpu_times"]):
            cmdline = process.info["cmdline"] or []
            times = process.info["cpu_times"]
            if (
                times is not None
                and cmdline
                and cmdline[0].startswith("postgres:")
                and f" {self.database} " in cmdline[0]
            ):
                self.seen[process.info["pid"]] = times.user + times.system
        return sum(self.seen.values())

    def _run(self) -> None:
        while not self._stop.wait(BACKEND_SAMPLE_INTERVAL_S):
            self.sample()

    def __enter__(self) -> BackendCpu:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def vm_hwm(pid: int) -> int | None:
    """The kernel's peak resident set size of a process (VmHWM), in bytes."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


@dataclass
class ImportResult:
    """One measured import."""

    name: str
    kind: str
    file_format: str
    file_mb: float
    rows: int
    status: str
    created: int
    updated: int
    unchanged: int
    invalid: int
    seconds: float
    validate_seconds: float
    registry_cpu_seconds: float
    database_cpu_seconds: float
    rows_per_s: float
    rss_before_mb: float
    peak_rss_mb: float
    progress_seen: list[tuple[int, int | None]] = field(default_factory=list)


async def measure_import(
    client: httpx.AsyncClient,
    sampler: MemorySampler,
    backends: BackendCpu,
    name: str,
    kind: str,
    path: Path,
    size: int,
) -> ImportResult:
    """Upload one file, poll the job to the end and record time, counts and the memory peak."""
    file_format = "xlsx" if path.suffix == ".xlsx" else "csv"
    sampler.reset()
    before = sampler.current()
    cpu_before = sampler.cpu_seconds()
    database_cpu_before = backends.sample()
    started = time.monotonic()
    with path.open("rb") as file:
        response = await client.post(
            "/v1/imports",
            params={"kind": kind},
            files={"file": (path.name, file, "application/octet-stream")},
        )
    if response.status_code != 202:
        raise RuntimeError(f"upload of {path.name} answered {response.status_code}: {response.text[:500]}")
    location = response.headers["location"]
    validated_at = None
    progress: list[tuple[int, int | None]] = []
    async with asyncio.timeout(JOB_TIMEOUT_S):
        while True:
            job = (await client.get(location)).json()
            if job["status"] == "importing" and validated_at is None:
                validated_at = time.monotonic()
            if job["status"] in ("importing", "succeeded") and (
                not progress or progress[-1][0] != job["done"]
            ):
                progress.append((job["done"], job["total"]))
            if job["status"] in ("succeeded", "failed"):
                break
            await asyncio.sleep(POLL_INTERVAL_S)
    seconds = time.monotonic() - started
    if job["status"] != "succeeded":
        raise RuntimeError(f"{name}: job failed: {json.dumps(job['errors'][:5], ensure_ascii=False)}")
    return ImportResult(
        name=name, kind=kind, file_format=file_format, file_mb=round(size / MIB, 1),
        rows=job["total"], status=job["status"], created=job["created"], updated=job["updated"],
        unchanged=job["unchanged"], invalid=job["invalid"], seconds=round(seconds, 1),
        validate_seconds=round((validated_at or time.monotonic()) - started, 1),
        registry_cpu_seconds=round(sampler.cpu_seconds() - cpu_before, 1),
        database_cpu_seconds=round(backends.sample() - database_cpu_before, 1),
        rows_per_s=round(job["total"] / seconds), rss_before_mb=round(before / MIB),
        peak_rss_mb=round(max(sampler.peak, before) / MIB), progress_seen=progress,
    )  # fmt: skip


@dataclass
class ExportResult:
    """One measured export."""

    name: str
    rows: int
    file_mb: float
    seconds: float
    rows_per_s: float
    rss_before_mb: float
    peak_rss_mb: float


def count_rows(path: Path) -> int:
    """Data rows of an exported file (the header excluded)."""
    if path.suffix == ".xlsx":
        workbook = openpyxl.load_workbook(path, read_only=True)
        try:
            return sum(1 for _ in workbook.worksheets[0].iter_rows(min_row=2, values_only=True))
        finally:
            workbook.close()
    with path.open(encoding="utf-8-sig", newline="") as file:
        return sum(1 for _ in csv.reader(file)) - 1


async def measure_export(
    client: httpx.AsyncClient, sampler: MemorySampler, kind: str, file_format: str, folder: Path
) -> ExportResult:
    """Download one export to disk while sampling the registry's memory."""
    sampler.reset()
    before = sampler.current()
    started = time.monotonic()
    path = folder / f"export-{kind}.{file_format}"
    async with client.stream("GET", f"/v1/{kind}/export", params={"format": file_format}) as response:
        if response.status_code != 200:
            raise RuntimeError(f"export of {kind} as {file_format} answered {response.status_code}")
        with path.open("wb") as file:
            async for chunk in response.aiter_bytes():
                file.write(chunk)
    seconds = time.monotonic() - started
    peak = max(sampler.peak, before)
    rows = await asyncio.to_thread(count_rows, path)
    return ExportResult(
        name=f"{kind} {file_format.upper()}", rows=rows, file_mb=round(path.stat().st_size / MIB, 1),
        seconds=round(seconds, 1), rows_per_s=round(rows / seconds), rss_before_mb=round(before / MIB),
        peak_rss_mb=round(peak / MIB),
    )  # fmt: skip


async def run_exports(
    registry: RunningProcess, token: str, folder: Path
) -> tuple[list[ExportResult], int | None]:
    """Every export in turn against one registry process; also the process's VmHWM at the end."""
    require_loopback(registry.url)
    results = []
    with MemorySampler(registry.process.pid) as sampler:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=registry.url, headers=headers, timeout=600) as client:
            for kind, file_format in EXPORTS:
                result = await measure_export(client, sampler, kind, file_format, folder)
                print(export_row(result), flush=True)
                results.append(result)
    return results, vm_hwm(registry.process.pid)


def export_row(result: ExportResult) -> str:
    """One printed line of an export."""
    return (
        f"export {result.name:<27} {result.rows:>8} {result.file_mb:>6} MB {result.seconds:>7} s "
        f"{result.rows_per_s:>7} rows/s {result.rss_before_mb:>7} → {result.peak_rss_mb} MB"
    )


def export_table(results: list[ExportResult]) -> str:
    """The export figures as docs/PERFORMANCE.md carries them."""
    lines = [
        "| Export | rows | file MB | s | rows/s | registry RSS before → peak |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.rows:,} | {r.file_mb} | {r.seconds} | {r.rows_per_s:,} "
            f"| {r.rss_before_mb:.0f} → {r.peak_rss_mb:.0f} MB |"
        )
    return "\n".join(lines)


def start_registry(database_urls: dict[str, str], public_jwks: str, log_dir: Path) -> RunningProcess:
    """One registry process (as the suite runs it) on a free port, trusting the bench's signing key."""
    env = {
        "REGISTRY_DATABASE_URL": database_urls["registry"],
        "REGISTRY_ENVIRONMENT": "test",
        "REGISTRY_JWT_PUBLIC_KEYS": public_jwks,
        "REGISTRY_ACCESS_LOG": "false",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    running = start_process(REGISTRY.app, "registry", free_port(), env, log_dir, REGISTRY.uvicorn_args())
    wait_until_healthy(running)
    return running


async def run_imports(
    registry: RunningProcess, database: str, token: str, files: list[tuple[str, str, Path, int]]
) -> tuple[list[ImportResult], int | None]:
    """Every import in turn against one registry process; also the process's VmHWM at the end."""
    require_loopback(registry.url)
    headers = {"Authorization": f"Bearer {token}"}
    results = []
    with MemorySampler(registry.process.pid) as sampler, BackendCpu(database) as backends:
        async with httpx.AsyncClient(base_url=registry.url, headers=headers, timeout=120) as client:
            for name, kind, path, size in files:
                result = await measure_import(client, sampler, backends, name, kind, path, size)
                print(table_row(result), flush=True)
                results.append(result)
    return results, vm_hwm(registry.process.pid)


HEADER = (
    f"{'import':<34} {'rows':>8} {'MB':>6} {'created':>8} {'updated':>8} {'unchanged':>9} "
    f"{'validate s':>10} {'total s':>8} {'rows/s':>7} {'CPU s':>6} {'DB CPU s':>8} {'RSS before':>10} {'peak RSS':>9}"
)


def table_row(result: ImportResult) -> str:
    """One line of the printed table."""
    return (
        f"{result.name:<34} {result.rows:>8} {result.file_mb:>6} {result.created:>8} {result.updated:>8} "
        f"{result.unchanged:>9} {result.validate_seconds:>10} {result.seconds:>8} {result.rows_per_s:>7} "
        f"{result.registry_cpu_seconds:>6} {result.database_cpu_seconds:>8} {result.rss_before_mb:>7} MB "
        f"{result.peak_rss_mb:>6} MB"
    )


def markdown_table(results: list[ImportResult]) -> str:
    """The figures as docs/PERFORMANCE.md carries them."""
    lines = [
        "| Import | rows | file MB | created / updated / unchanged | validation s | total s | rows/s | registry CPU s | database CPU s | registry RSS before → peak |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.rows:,} | {r.file_mb} | {r.created:,} / {r.updated:,} / {r.unchanged:,} "
            f"| {r.validate_seconds} | {r.seconds} | {r.rows_per_s:,} | {r.registry_cpu_seconds} | {r.database_cpu_seconds} "
            f"| {r.rss_before_mb:.0f} → {r.peak_rss_mb:.0f} MB |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Generate the files, run the imports against a real registry process, report and check the peak."""
    args = parse_args(argv)
    command = shlex.join(["python", "-m", "bench.imports", *(sys.argv[1:] if argv is None else argv)])
    started = datetime.now(UTC)
    communes = read_communes()
    private_pem, public_pem = generate_rsa_pair()
    token = TokenSigner(private_pem, kid=KID, issuer=ISSUER).sign(
        Principal(sub="bench-imports", role=Role.admin), audience=AUDIENCE, ttl_s=JOB_TIMEOUT_S * 4
    )
    with tempfile.TemporaryDirectory(prefix="ocop-bench-imports-") as work:
        folder = Path(work)
        print(f"{command}: generating {args.rows:,}-row files in {folder}", flush=True)
        entities_csv, products_csv = folder / "entities.csv", folder / "products.csv"
        write_csv(entities_csv, ENTITY_COLUMNS, (entity_values(i, communes) for i in range(args.rows)))
        write_csv(products_csv, PRODUCT_COLUMNS, (product_values(i) for i in range(args.rows)))
        files = [
            ("entities CSV (new)", "entities", entities_csv),
            ("products CSV (new, codes generated)", "products", products_csv),
            ("entities CSV again (unchanged)", "entities", entities_csv),
        ]
        if args.xlsx:
            entities_xlsx = folder / "entities.xlsx"
            write_xlsx(entities_xlsx, ENTITY_COLUMNS, (entity_values(i, communes) for i in range(args.rows)))
            files.append(("entities XLSX (unchanged)", "entities", entities_xlsx))
        with throwaway_database() as database:
            asyncio.run(insert_units(database.admin_url, communes))
            registry = start_registry(database.urls, jwks(public_pem, KID), folder)
            try:
                print(f"registry pid {registry.process.pid} at {registry.url}\n\n{HEADER}", flush=True)
                sized = [(name, kind, path, path.stat().st_size) for name, kind, path in files]
                results, high_water = asyncio.run(
                    run_imports(registry, database_of(database.admin_url), token, sized)
                )
            finally:
                stop([registry])
            registry = start_registry(database.urls, jwks(public_pem, KID), folder)
            try:
                print(f"\nfresh registry pid {registry.process.pid} for the exports", flush=True)
                exports, export_high_water = asyncio.run(run_exports(registry, token, folder))
            finally:
                stop([registry])
    peak = max([r.peak_rss_mb for r in results] + ([round(high_water / MIB)] if high_water else []))
    export_peak = max(
        [r.peak_rss_mb for r in exports] + ([round(export_high_water / MIB)] if export_high_water else [])
    )
    print("\n" + markdown_table(results))
    print(
        f"\nregistry VmHWM (kernel peak RSS over the whole run): {round(high_water / MIB) if high_water else 'n/a'} MB"
    )
    verdict = "under" if peak < PEAK_RSS_LIMIT_MB else "OVER"
    print(f"peak RSS {peak} MB: {verdict} the {PEAK_RSS_LIMIT_MB} MB limit")
    print("\n" + export_table(exports))
    export_verdict = "under" if export_peak < EXPORT_PEAK_RSS_LIMIT_MB else "OVER"
    print(
        f"\nexports: registry VmHWM {round(export_high_water / MIB) if export_high_water else 'n/a'} MB; "
        f"peak RSS {export_peak} MB: {export_verdict} the {EXPORT_PEAK_RSS_LIMIT_MB} MB limit"
    )
    document = {
        "date": started.isoformat(timespec="seconds"),
        "command": command,
        "rows": args.rows,
        "cpus": os.cpu_count(),
        "peak_rss_limit_mb": PEAK_RSS_LIMIT_MB,
        "vm_hwm_mb": round(high_water / MIB) if high_water else None,
        "results": [asdict(result) for result in results],
        "export_peak_rss_limit_mb": EXPORT_PEAK_RSS_LIMIT_MB,
        "export_vm_hwm_mb": round(export_high_water / MIB) if export_high_water else None,
        "exports": [asdict(result) for result in exports],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print(f"results written to {args.output}")
    return 0 if peak < PEAK_RSS_LIMIT_MB and export_peak < EXPORT_PEAK_RSS_LIMIT_MB else 1


if __name__ == "__main__":
    raise SystemExit(main())
