"""Real uvicorn processes of the suite on free loopback ports, for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from shared.topology import GATEWAY, SERVICES, ProcessSpec, event_env
from tests.support.keys import EVENT_SECRETS, rsa_pair

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningProcess:
    """One started process and where it listens."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    # How it was started, to start it again on the same port (``stopped``).
    command: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """Base URL of the process."""
        return f"http://{HOST}:{self.port}"


def _launch(command: list[str], env: dict[str, str], log: Path, mode: str) -> subprocess.Popen[bytes]:
    with log.open(mode) as out:
        return subprocess.Popen(command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)


def start_process(
    app: str, name: str, port: int, env: dict[str, str], log_dir: Path, args: list[str] | None = None
) -> RunningProcess:
    """Start ``app`` under uvicorn with its output in ``log_dir``."""
    log = log_dir / f"{name}.log"
    command = [
        sys.executable, "-m", "uvicorn", app, "--host", HOST, "--port", str(port), *(args or ["--no-access-log"]),
    ]  # fmt: skip
    return RunningProcess(name, port, _launch(command, env, log, "wb"), log, command, env)


def wait_until_healthy(running: RunningProcess, timeout_s: float = 60) -> None:
    """Poll /healthz until it answers 200."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise RuntimeError(f"{running.name} exited: {running.log.read_text()[-2000:]}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{running.url}/healthz", timeout=1) as response,  # noqa: S310 - loopback
        ):
            if response.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{running.name} not healthy in {timeout_s} s: {running.log.read_text()[-2000:]}")


def stop(processes: list[RunningProcess]) -> None:
    """Terminate the processes and wait for them."""
    for running in processes:
        if running.process.poll() is None:
            running.process.terminate()
    for running in processes:
        try:
            running.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            running.process.kill()


@contextlib.contextmanager
def stopped(running: RunningProcess) -> Iterator[None]:
    """``running`` stopped for the block (the others keep running), then started again on its port
    with the same command and environment, and healthy, whatever the block did."""
    stop([running])
    try:
        yield
    finally:
        running.process = _launch(running.command, running.env, running.log, "ab")
        wait_until_healthy(running)


def process_env(urls: dict[str, str], ports: dict[str, int]) -> dict[str, str]:
    """Environment for every process: its own database URL and the gateway's upstreams."""
    env = {f"{spec.env_prefix}DATABASE_URL": urls[spec.name] for spec in (GATEWAY, *SERVICES)}
    for spec in SERVICES:
        env[f"GATEWAY_{spec.name.upper()}_URL"] = f"http://{HOST}:{ports[spec.name]}"
    env["GATEWAY_ENVIRONMENT"] = env["REGISTRY_ENVIRONMENT"] = "test"
    env["SCORING_ENVIRONMENT"] = env["STAMPS_ENVIRONMENT"] = "test"
    # Scoring calls the registry directly, with service tokens signed by the key the tests trust.
    env["SCORING_REGISTRY_URL"] = f"http://{HOST}:{ports['registry']}"
    env["SCORING_SERVICE_SIGNING_KEY"] = rsa_pair()[0]
    env["SCORING_SERVICE_KEY_ID"] = "test-1"
    env["SCORING_CERTIFICATE_JOB_EVERY_S"] = "1"
    # Integration events as `ocop up` wires them, with the tests' secrets and quick retries.
    env |= event_env(HOST, ports, EVENT_SECRETS)
    env["GATEWAY_DB_POOL_SIZE"] = "4"
    env["REGISTRY_DB_READ_POOL_SIZE"] = "4"
    for spec in SERVICES:
        env[f"{spec.env_prefix}EVENTS__FIRST_RETRY_S"] = "0.2"
        env[f"{spec.env_prefix}EVENTS__LAST_RETRY_S"] = "2"
        # Two workers each run these four processes beside three in-process apps on one server of
        # 100 connections: small pools (a relay adds three connections of its own).
        env[f"{spec.env_prefix}DB_POOL_SIZE"] = "5"
        # A relay killed mid-delivery leaves leases: here they run out within seconds.
        env[f"{spec.env_prefix}EVENTS__LEASE_S"] = "5"
        env[f"{spec.env_prefix}EVENTS__TIMEOUT_S"] = "3"
    return env


@contextlib.contextmanager
def running_suite(
    urls: dict[str, str], log_dir: Path, extra_env: dict[str, str] | None = None
) -> Iterator[dict[str, RunningProcess]]:
    """The four processes, each on a free port, stopped on exit; ``extra_env`` added to their environment."""
    specs: list[ProcessSpec] = [*SERVICES, GATEWAY]
    ports = {spec.name: free_port() for spec in specs}
    env = process_env(urls, ports) | (extra_env or {})
    started = {
        spec.name: start_process(spec.app, spec.name, ports[spec.name], env, log_dir, spec.uvicorn_args())
        for spec in specs
    }
    try:
        for running in started.values():
            wait_until_healthy(running)
        yield started
    finally:
        stop(list(started.values()))


@contextlib.contextmanager
def reaping_orphans() -> Iterator[None]:
    """This process the reaper of its orphaned descendants for the block, as ``ocop up`` is: a killed embedded
    postmaster (daemonised by pg_ctl) must be reaped before it can start again, and pid 1 here reaps nobody."""
    import ctypes

    from shared.embedded import PR_SET_CHILD_SUBREAPER, adopt_orphans, reap_orphans

    adopt_orphans()
    try:
        yield
    finally:
        reap_orphans(set())
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
