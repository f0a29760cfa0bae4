"""Helper processes: started, stopped gracefully, restarted when they die, never outliving their parent."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import psutil
import pytest

from gateway.config import GatewaySettings
from services.registry.config import RegistrySettings
from services.scoring.config import ScoringSettings
from services.stamps.config import StampsSettings
from shared import children
from shared.children import ChildProcess
from shared.config import BaseServiceSettings
from shared.topology import REPO_ROOT

CHILD = "tests.support.stoppable_child"
ENVIRONMENT = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}


async def until(condition: object, timeout_s: float = 10.0) -> None:
    """Wait until ``condition()`` is true (polling), or fail."""
    for _ in range(int(timeout_s / 0.05)):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def note(marker: Path) -> str:
    return marker.read_text() if marker.exists() else ""


async def test_a_child_starts_at_a_lower_priority_and_stops_gracefully(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    child = ChildProcess(CHILD, [str(marker)], name="test child", environment=ENVIRONMENT, nice=5)
    await child.start()
    assert child.process is not None
    pid = child.process.pid
    await until(lambda: note(marker) == "started")
    assert psutil.Process(pid).nice() == os.getpriority(os.PRIO_PROCESS, 0) + 5
    await child.stop()
    assert note(marker) == "stopped"  # it ran its own shutdown (SIGTERM), it was not killed
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


async def test_a_child_that_dies_is_started_again(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    child = ChildProcess(CHILD, [str(marker)], name="test child", environment=ENVIRONMENT)
    await child.start()
    try:
        assert child.process is not None
        first = child.process.pid
        await until(lambda: note(marker) == "started")
        marker.unlink()
        os.kill(first, signal.SIGKILL)
        await until(lambda: child.starts == 2 and note(marker) == "started")
        assert child.process is not None
        assert child.process.pid != first
    finally:
        await child.stop()


def test_a_child_does_not_outlive_a_killed_parent(tmp_path: Path) -> None:
    """SIGKILL leaves the parent no time to stop its child: the child sees its input close and stops."""
    marker = tmp_path / "marker"
    parent = textwrap.dedent(f"""
        import asyncio
        from shared.children import ChildProcess

        async def main():
            child = ChildProcess({CHILD!r}, [{str(marker)!r}], name="orphan")
            await child.start()
            print(child.process.pid, flush=True)
            await asyncio.sleep(3600)

        asyncio.run(main())
    """)
    process = subprocess.Popen(
        [sys.executable, "-c", parent], stdout=subprocess.PIPE, env=ENVIRONMENT, text=True
    )
    try:
        assert process.stdout is not None
        pid = int(process.stdout.readline())
        asyncio.run(until(lambda: note(marker) == "started"))
        process.kill()
        process.wait()
        asyncio.run(until(lambda: note(marker) == "stopped"))
        asyncio.run(
            until(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
        )
    finally:
        process.kill()


@pytest.mark.parametrize(
    "settings_class", [GatewaySettings, RegistrySettings, ScoringSettings, StampsSettings]
)
def test_a_child_reads_exactly_its_parents_settings(
    settings_class: type[BaseServiceSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Secrets, nested settings and values that differ from the environment's all reach the child."""
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    # The parent's environment says otherwise: the child must not read these.
    monkeypatch.setenv(f"{prefix}LOG_LEVEL", "ERROR")
    monkeypatch.setenv(f"{prefix}EVENTS__MAX_ATTEMPTS", "2")
    settings = settings_class(
        environment="test",
        database_url="postgresql://someone:s3cr3t-passw0rd@db.example:5432/ocop",
        log_level="DEBUG",
        db_pool_size=3,
        events={
            "max_attempts": 7,
            "first_retry_s": 0.25,
            "accepted_secrets": {"registry": ["rotating-secret-1", "rotating-secret-2"]},
            "subscribers": [{"name": "stamps", "url": "http://stamps.example/inbox", "secret": "sub-secret",
                             "types": ["registry.product.updated"]}],
        },
    )  # fmt: skip
    environment = settings.child_environment()
    monkeypatch.setattr(os, "environ", environment)
    assert settings_class() == settings
    assert environment["PATH"]  # the rest of the parent's environment is kept


async def test_a_child_that_cannot_be_started_again_is_tried_until_it_can(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed fork (memory, a pids limit) neither ends the watching nor the parent's shutdown."""
    marker = tmp_path / "marker"
    monkeypatch.setattr(children, "FIRST_RESTART_S", 0.05)
    child = ChildProcess(CHILD, [str(marker)], name="test child", environment=ENVIRONMENT)
    await child.start()
    try:
        await until(lambda: note(marker) == "started")
        marker.unlink()
        spawn = asyncio.create_subprocess_exec
        refusals = iter([OSError(11, "Resource temporarily unavailable")] * 2)

        async def refusing(*command: Any, **options: Any) -> Any:
            refusal = next(refusals, None)
            if refusal is not None:
                raise refusal
            return await spawn(*command, **options)

        monkeypatch.setattr(asyncio, "create_subprocess_exec", refusing)
        assert child.process is not None
        os.kill(child.process.pid, signal.SIGKILL)
        await until(lambda: note(marker) == "started")  # third time lucky
        assert child.starts == 2
    finally:
        await child.stop()
    assert note(marker) == "stopped"
