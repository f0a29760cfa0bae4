"""Load generators: a bounded closed-loop aiohttp client (default) and wrk, both loopback-only."""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import resource
import shutil
import subprocess
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp

from shared.heap import frozen_heap

LOOPBACK = "127.0.0.1"
# Per-request limit: a stuck request counts as an error instead of stalling its connection.
REQUEST_TIMEOUT_S = 5.0
# One wrk thread is far from saturated at these rates and leaves the other core to the servers.
WRK_THREADS = 1

# Called with "start" when the measured window opens and "end" when it closes.
WindowHook = Callable[[str], None]
# What a load generator's coroutine returns.
Result = TypeVar("Result")


@dataclass(frozen=True)
class LoadResult:
    """What one load run measured over its window (warm-up excluded)."""

    tool: str
    url: str
    connections: int
    duration_s: float
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float
    client_cpu_s: float

    def as_dict(self) -> dict[str, Any]:
        """The result as plain JSON-ready data."""
        return asdict(self)


def require_loopback(url: str) -> None:
    """Refuse to aim load at anything but this machine's loopback address."""
    if urlsplit(url).hostname != LOOPBACK:
        raise ValueError(f"load is only ever sent to {LOOPBACK}, not {url}")


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list (nan when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- the Python client ---------------------------------------------------------------------------


async def _python_load(
    url: str, connections: int, duration_s: float, warmup_s: float, on_window: WindowHook | None
) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    began = time.perf_counter()
    window_start = began + warmup_s
    window_end = window_start + duration_s
    cpu: dict[str, float] = {}

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        # Closed loop, like wrk: each connection sends its next request when the last one is answered.
        while (sent := time.perf_counter()) < window_end:
            ok = False
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(url) as response:
                    await response.read()
                    ok = response.status == 200
            done = time.perf_counter()
            # Only requests answered inside the window count, so warm-up and the tail stay out.
            if window_start <= done < window_end:
                if ok:
                    latencies.append(done - sent)
                else:
                    errors += 1

    async def clock() -> None:
        # The hooks and our own CPU are sampled at the window's edges, not around the warm-up.
        await asyncio.sleep(max(0.0, window_start - time.perf_counter()))
        cpu["start"] = _self_cpu_s()
        if on_window:
            on_window("start")
        await asyncio.sleep(max(0.0, window_end - time.perf_counter()))
        cpu["end"] = _self_cpu_s()
        if on_window:
            on_window("end")

    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        # The whole run is bounded even if a server misbehaves.
        async with asyncio.timeout(warmup_s + duration_s + REQUEST_TIMEOUT_S + 5):
            await asyncio.gather(clock(), *(worker(session) for _ in range(connections)))

    latencies.sort()
    return LoadResult(
        tool="python",
        url=url,
        connections=connections,
        duration_s=duration_s,
        requests=len(latencies),
        errors=errors,
        rps=len(latencies) / duration_s,
        p50_ms=percentile(latencies, 50) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        client_cpu_s=cpu["end"] - cpu["start"],
    )


def run_client(load: Coroutine[Any, Any, Result]) -> Result:
    """Run a load generator's coroutine, on uvloop where installed, with its heap frozen."""
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    with contextlib.suppress(ImportError):
        import uvloop  # the servers run on uvloop; the client should not be the slower loop

        loop_factory = uvloop.new_event_loop
    # A full collection walks every object the collector tracks (~155,000 left by a bench's imports):
    # in the generator's own event loop that was a 33–61 ms pause every few seconds, which an open loop
    # at 3,200 req/s through the gateway charged to the servers (p99 56–62 ms; frozen, 14–15 ms).
    with frozen_heap(), asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(load)


def run_python(
    url: str, *, connections: int, duration_s: float, warmup_s: float, on_window: WindowHook | None = None
) -> LoadResult:
    """Drive ``url`` with ``connections`` keep-alive connections for ``duration_s`` after a warm-up."""
    require_loopback(url)
    return run_client(_python_load(url, connections, duration_s, warmup_s, on_window))


# --- wrk -----------------------------------------------------------------------------------------

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_PERCENTILE = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_TOTAL = re.compile(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")


def wrk_available() -> bool:
    """Whether the wrk binary is on PATH."""
    return shutil.which("wrk") is not None


def parse_wrk(output: str) -> dict[str, float]:
    """Requests, duration, p50/p99 and error counts from ``wrk --latency`` output."""
    total = _TOTAL.search(output)
    if total is None:
        raise ValueError(f"unrecognised wrk output:\n{output}")
    percentiles = {
        int(pct): float(value) * _UNITS_MS[unit] for pct, value, unit in _PERCENTILE.findall(output)
    }
    if set(percentiles) != {50, 99}:
        raise ValueError(f"wrk output lacks the latency distribution (--latency):\n{output}")
    socket_errors = _SOCKET_ERRORS.search(output)
    non_2xx = _NON_2XX.search(output)
    return {
        "requests": int(total.group(1)),
        "duration_s": float(total.group(2)) * _UNITS_MS[total.group(3)] / 1000,
        "p50_ms": percentiles[50],
        "p99_ms": percentiles[99],
        "errors": sum(int(n) for n in socket_errors.groups()) if socket_errors else 0,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
    }


def _wrk(url: str, connections: int, seconds: int, script: str | None = None) -> str:
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script is not None:
        command[1:1] = ["-s", script]
    # wrk stops itself after -d; the timeout only guards against a hung process.
    completed = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=True)
    return completed.stdout


def run_wrk(
    url: str,
    *,
    connections: int,
    duration_s: float,
    warmup_s: float,
    on_window: WindowHook | None = None,
    script: str | None = None,
) -> LoadResult:
    """The same measurement with wrk (whole seconds only); the warm-up is a separate, discarded run.

    ``script``: a wrk Lua script (e.g. one that walks a list of paths, ``walking_script``).
    """
    require_loopback(url)
    if not wrk_available():
        raise RuntimeError(
            "wrk is not installed (Debian: apt-get install wrk; make bench installs it); use --load python"
        )
    if warmup_s > 0:
        _wrk(url, connections, max(1, round(warmup_s)), script)
    cpu_before = _children_cpu_s()
    if on_window:
        on_window("start")
    output = _wrk(url, connections, max(1, round(duration_s)), script)
    if on_window:
        on_window("end")
    # RUSAGE_CHILDREN only grows when a child is reaped: here, just the wrk run that has ended.
    client_cpu_s = _children_cpu_s() - cpu_before
    parsed = parse_wrk(output)
    errors = int(parsed["errors"] + parsed["non_2xx"])
    return LoadResult(
        tool="wrk",
        url=url,
        connections=connections,
        duration_s=parsed["duration_s"],
        requests=int(parsed["requests"]) - int(parsed["non_2xx"]),
        errors=errors,
        rps=(parsed["requests"] - parsed["non_2xx"]) / parsed["duration_s"],
        p50_ms=parsed["p50_ms"],
        p99_ms=parsed["p99_ms"],
        client_cpu_s=client_cpu_s,
    )


def walking_script(paths_file: str, headers: dict[str, str]) -> str:
    """A wrk Lua script sending the paths of ``paths_file`` (one per line) in turn, with ``headers``."""
    lines = [f"wrk.headers[{name!r}] = {value!r}" for name, value in headers.items()]
    lines += [
        "local paths = {}",
        f"for line in io.lines({paths_file!r}) do paths[#paths + 1] = line end",
        "local next_index = 0",
        "request = function()",
        "  next_index = next_index % #paths + 1",
        '  return wrk.format("GET", paths[next_index])',
        "end",
    ]
    return "\n".join(lines) + "\n"


LOADERS: dict[str, Callable[..., LoadResult]] = {"python": run_python, "wrk": run_wrk}
