"""`ocop up` keeps the suite serving: a killed service or PostgreSQL is restarted, the others keep serving.

Runs the real command (embedded PostgreSQL in a state folder of its own, free ports) and kills its
children with SIGKILL. Every wait has its own deadline, so a regression fails instead of hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest

from shared.db import asyncpg_dsn
from shared.topology import GATEWAY, SERVICES
from tests.support.database import embedded_home, embedded_server
from tests.support.processes import free_port

# One embedded server at a time: two starting side by side on one machine can trip over each other.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("embedded-postgres")]

START_DEADLINE_S = 180
RECOVERY_DEADLINE_S = 60


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def _wait_for(
    check: object, deadline_s: float, what: str, runner: subprocess.Popen[bytes], log: Path | None = None
) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        tail = log.read_text()[-3000:] if log is not None and log.exists() else ""
        assert runner.poll() is None, f"ocop up exited with {runner.returncode} waiting for {what}\n{tail}"
        if check():  # type: ignore[operator]
            return
        time.sleep(0.3)
    tail = log.read_text()[-3000:] if log is not None and log.exists() else ""
    raise AssertionError(f"not within {deadline_s} s: {what}\n{tail}")


def _child(runner: subprocess.Popen[bytes], needle: str) -> psutil.Process:
    for child in psutil.Process(runner.pid).children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            if needle in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                return child
    raise AssertionError(f"no running child matches {needle!r}")


@pytest.fixture(scope="module")
def running_suite() -> Iterator[tuple[subprocess.Popen[bytes], dict[str, int], Path]]:
    """`ocop up --no-demo` on an embedded PostgreSQL and free ports; its output in a log file."""
    state = embedded_home("state")
    ports = {spec.name: free_port() for spec in (*SERVICES, GATEWAY)}
    env = {key: value for key, value in os.environ.items() if not key.endswith("_DATABASE_URL")}
    env |= {"OCOP_STATE_DIR": str(state)} | {
        f"OCOP_{name.upper()}_PORT": str(port) for name, port in ports.items()
    }
    env.pop("OCOP_DATABASE_URL", None)
    log = state / "ocop.log"
    with log.open("wb") as out:
        runner = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "up", "--no-demo"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        gateway = f"http://127.0.0.1:{ports['gateway']}"
        _wait_for(
            lambda: _status(f"{gateway}/readyz") == 200, START_DEADLINE_S, "the suite ready", runner, log
        )
        yield runner, ports, log
    finally:
        runner.send_signal(signal.SIGTERM)
        try:
            runner.wait(timeout=60)
        except subprocess.TimeoutExpired:
            for child in psutil.Process(runner.pid).children(recursive=True):
                with contextlib.suppress(psutil.NoSuchProcess):
                    child.kill()
            runner.kill()
        shutil.rmtree(state, ignore_errors=True)


def test_a_killed_service_is_restarted_while_the_others_serve(
    running_suite: tuple[subprocess.Popen[bytes], dict[str, int], Path],
) -> None:
    runner, ports, log = running_suite
    registry = f"http://127.0.0.1:{ports['registry']}"
    scoring = f"http://127.0.0.1:{ports['scoring']}"
    victim = _child(runner, "services.registry.main:app")
    victim.kill()
    victim.wait(timeout=10)
    # The others keep serving while the registry is down.
    assert _status(f"{scoring}/healthz") == 200
    _wait_for(
        lambda: _status(f"{registry}/healthz") == 200, RECOVERY_DEADLINE_S, "the registry back", runner, log
    )
    assert _child(runner, "services.registry.main:app").pid != victim.pid
    assert "registry: not running; restarting in" in log.read_text()
    catalogue = f"http://127.0.0.1:{ports['gateway']}/v1/admin-units?level=province"
    _wait_for(
        lambda: _status(catalogue) == 200, RECOVERY_DEADLINE_S, "reads through the gateway", runner, log
    )


def test_a_killed_postgresql_is_restarted_and_the_suite_serves_again(
    running_suite: tuple[subprocess.Popen[bytes], dict[str, int], Path],
) -> None:
    runner, ports, log = running_suite
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    units = f"{gateway}/v1/admin-units?level=province"
    assert _status(units) == 200
    pgdata = Path(log.parent) / "pgdata"
    postmaster = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    os.kill(postmaster, signal.SIGKILL)
    _wait_for(
        lambda: "postgresql: not running" in log.read_text(), RECOVERY_DEADLINE_S, "the crash noticed", runner
    )
    _wait_for(lambda: _status(units) == 200, RECOVERY_DEADLINE_S, "reads served again", runner, log)
    _wait_for(
        lambda: _status(f"{gateway}/readyz") == 200, RECOVERY_DEADLINE_S, "the suite ready again", runner
    )
    assert int((pgdata / "postmaster.pid").read_text().splitlines()[0]) != postmaster


def test_service_roles_need_their_password_on_the_embedded_server() -> None:
    with embedded_server("scram") as server:
        admin = asyncpg_dsn(server.start())

        async def check() -> None:
            connection = await asyncpg.connect(admin)
            try:
                await connection.execute("CREATE ROLE ocop_probe LOGIN PASSWORD 'right-password'")
            finally:
                await connection.close()
            as_probe = admin.replace("postgres:@", "ocop_probe:{}@")
            with pytest.raises(asyncpg.InvalidPasswordError):
                await asyncpg.connect(as_probe.format("wrong-password"))
            with pytest.raises(asyncpg.InvalidPasswordError):
                await asyncpg.connect(as_probe.format(""))
            connection = await asyncpg.connect(as_probe.format("right-password"))
            assert await connection.fetchval("SELECT current_user") == "ocop_probe"
            await connection.close()

        asyncio.run(check())
