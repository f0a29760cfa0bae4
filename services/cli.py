"""The ``ocop`` command: database set-up, migrations, demo data and running the whole suite."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from services.supervisor import Supervisor, process_child
from shared import dbadmin, migrate
from shared.db import Database, schema_metadata
from shared.embedded import EmbeddedPostgres, adopt_orphans, reap_orphans
from shared.events.admin import list_deliveries, replay_dead_letters
from shared.events.outbox import channel
from shared.events.tables import outbox_tables
from shared.security.jwt import TokenSigner
from shared.security.keys import ensure_dev_event_secrets, ensure_dev_keys
from shared.security.principal import Principal, Role
from shared.topology import (
    GATEWAY,
    OUTBOXES,
    PROCESSES,
    REGISTRY,
    REPO_ROOT,
    SCORING,
    SERVICES,
    STAMPS,
    SUBSCRIPTIONS,
    ProcessSpec,
    event_env,
)  # fmt: skip

STATE_DIR = Path(os.environ.get("OCOP_STATE_DIR", REPO_ROOT / ".ocop"))
HOST = "127.0.0.1"


def _say(message: str) -> None:
    print(f"ocop: {message}", flush=True)  # noqa: T201 - this is the command's output


def _passwords() -> dict[str, str]:
    """Role passwords: from OCOP_<NAME>_DB_PASSWORD, else generated once and kept in .ocop/."""
    path = STATE_DIR / "secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    for spec in PROCESSES:
        override = os.environ.get(f"OCOP_{spec.name.upper()}_DB_PASSWORD")
        if override:
            stored[spec.name] = override
        elif spec.name not in stored:
            stored[spec.name] = dbadmin.new_password()
            changed = True
    if changed:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    return stored


@contextlib.contextmanager
def database(server_out: list[EmbeddedPostgres] | None = None) -> Iterator[str]:
    """The administrator URL: OCOP_DATABASE_URL, or an embedded server under .ocop/ for the duration."""
    url = os.environ.get("OCOP_DATABASE_URL")
    if url:
        yield url
        return
    server = EmbeddedPostgres(STATE_DIR / "pgdata")
    _say(f"starting embedded PostgreSQL in {server.pgdata}")
    admin_url = server.start()
    if server_out is not None:
        server_out.append(server)
    try:
        yield admin_url
    finally:
        server.stop()
        _say("embedded PostgreSQL stopped")


def service_urls(admin_url: str) -> dict[str, str]:
    """Each process's own database URL (its role, same server and database)."""
    passwords = _passwords()
    return {spec.name: dbadmin.role_url(admin_url, spec.role, passwords[spec.name]) for spec in PROCESSES}


def prepare(admin_url: str) -> dict[str, str]:
    """Create the database if needed, roles and schemas, and run every migration."""
    asyncio.run(dbadmin.create_database(admin_url, dbadmin.database_of(admin_url)))
    asyncio.run(dbadmin.bootstrap(admin_url, PROCESSES, _passwords()))
    urls = service_urls(admin_url)
    for spec in PROCESSES:
        migrate.upgrade(spec, urls[spec.name])
        _say(f"{spec.name}: schema {spec.schema} migrated")
    return urls


def seed(urls: dict[str, str], *, demo: bool) -> None:
    """Load reference data and, with ``demo``, the demo data set, into each service.

    Scoring's demo history reads the registry's demo over HTTP: ``seed`` loads every service's own
    data; ``seed_scoring_demo`` then runs once the registry answers (``ocop up`` after starting the
    processes; ``ocop seed --demo`` starts the registry for the while if it is not running).
    """
    env = {**os.environ, **_process_env(urls)}
    args = ["--demo"] if demo else []
    for spec in SERVICES:
        module = f"services.{spec.name}.commands.seed"
        # Scoring's and stamps' demos read what the running services announce: loaded by ``up``.
        if (
            spec in (SCORING, STAMPS)
            or not (REPO_ROOT / "services" / spec.name / "commands" / "seed.py").exists()
        ):
            continue
        subprocess.run([sys.executable, "-m", module, *args], env=env, check=True)  # noqa: S603


def seed_scoring_demo(urls: dict[str, str]) -> bool:
    """Scoring's demo history (councils, rounds, results, certificates announced to the registry), which
    needs the registry answering; whether it loaded (a second run changes nothing)."""
    env = {**os.environ, **_process_env(urls)}
    _say("scoring: loading the demo's history from the registry (councils, rounds, results, certificates)")
    command = [sys.executable, "-m", "services.scoring.commands.seed", "--demo"]
    return subprocess.run(command, env=env, check=False).returncode == 0  # noqa: S603


def seed_stamps_demo(urls: dict[str, str]) -> bool:
    """The demo's e-stamps, once the stamps service holds the certified products; prints links to verify them."""
    env = {**os.environ, **_process_env(urls)}
    _say("stamps: issuing and activating the demo's e-stamps")
    base_url = f"http://{HOST}:{port_of(GATEWAY)}"
    command = [sys.executable, "-m", "services.stamps.commands.seed", "--demo", "--base-url", base_url]
    return subprocess.run(command, env=env, check=False).returncode == 0  # noqa: S603


def seed_with_registry(urls: dict[str, str]) -> None:
    """``ocop seed --demo``: scoring's demo history, with a registry of these databases started for the while
    on a free port (whatever else runs on this machine, say an ``ocop up`` of other databases)."""
    variable = f"OCOP_{REGISTRY.name.upper()}_PORT"
    configured = os.environ.get(variable)
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        os.environ[variable] = str(probe.getsockname()[1])
    registry = None
    try:
        # Its access log would be a line per announced certificate.
        registry = _start(REGISTRY, {**os.environ, **_process_env(urls), "REGISTRY_ACCESS_LOG": "false"})
        _wait_healthy(REGISTRY, registry)
        if not seed_scoring_demo(urls):
            raise SystemExit("scoring's demo history did not load completely (see above)")
    finally:
        if registry is not None:
            _stop_all({REGISTRY.name: registry})
        if configured is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = configured


def port_of(spec: ProcessSpec) -> int:
    """The process's port: OCOP_<NAME>_PORT if set (several suites on one machine), else its default."""
    return int(os.environ.get(f"OCOP_{spec.name.upper()}_PORT", spec.port))


def _process_env(urls: dict[str, str]) -> dict[str, str]:
    env = {f"{spec.env_prefix}DATABASE_URL": urls[spec.name] for spec in PROCESSES}
    private_key, public_keys = ensure_dev_keys(STATE_DIR)
    # Scoring calls the registry with service tokens of its own, signed with the development key.
    env["SCORING_REGISTRY_URL"] = f"http://{HOST}:{port_of(REGISTRY)}"
    env.setdefault("SCORING_SERVICE_SIGNING_KEY", os.environ.get("SCORING_SERVICE_SIGNING_KEY", private_key))
    for spec in PROCESSES:
        env.setdefault(
            f"{spec.env_prefix}JWT_PUBLIC_KEYS",
            os.environ.get(f"{spec.env_prefix}JWT_PUBLIC_KEYS", public_keys),
        )
    for spec in SERVICES:
        env[f"GATEWAY_{spec.name.upper()}_URL"] = f"http://{HOST}:{port_of(spec)}"
    # Integration events: who subscribes to what, signed with a development secret per source.
    secrets = ensure_dev_event_secrets(STATE_DIR, tuple(SUBSCRIPTIONS))
    for name, value in event_env(HOST, {spec.name: port_of(spec) for spec in SERVICES}, secrets).items():
        env.setdefault(name, os.environ.get(name, value))
    return env


def _start(spec: ProcessSpec, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "uvicorn", spec.app,
        "--host", HOST, "--port", str(port_of(spec)), *spec.uvicorn_args(), "--timeout-graceful-shutdown", "5",
    ]  # fmt: skip
    return subprocess.Popen(command, env=env)  # noqa: S603


# A loaded two-core machine can take a minute to import and start four processes side by side.
START_TIMEOUT_S = float(os.environ.get("OCOP_START_TIMEOUT_S", "120"))


def _wait_healthy(
    spec: ProcessSpec, process: subprocess.Popen[bytes] | None, timeout_s: float = START_TIMEOUT_S
) -> None:
    if process is None:
        raise SystemExit(f"{spec.name} was not started")
    deadline = time.monotonic() + timeout_s
    url = f"http://{HOST}:{port_of(spec)}/healthz"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{spec.name} exited with code {process.returncode}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
            if response.status == 200:
                return
        time.sleep(0.1)
    raise SystemExit(f"{spec.name} did not answer on {url} within {timeout_s:.0f} s")


def _stop_all(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + 10
    for process in processes.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        if process.poll() is None:
            process.kill()


def dev_token(principal: Principal, *, ttl_s: int = 900) -> str:
    """A token signed with the development key that `ocop up` gives every process to trust."""
    private_key, _ = ensure_dev_keys(STATE_DIR)
    signer = TokenSigner(private_key, kid="dev-1", issuer="ocop-gateway")
    return signer.sign(principal, audience="ocop-platform", ttl_s=ttl_s)


def up(*, demo: bool) -> int:
    """Run the whole suite in the foreground until Ctrl-C or SIGTERM, restarting whatever crashes."""
    stopping = False

    def request_stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    # A killed embedded server must be reaped before it can start again (see adopt_orphans).
    adopt_orphans()
    servers: list[EmbeddedPostgres] = []
    with database(servers) as admin_url:
        urls = prepare(admin_url)
        seed(urls, demo=demo)
        env = {**os.environ, **_process_env(urls)}
        supervisor = Supervisor(_say)
        current: dict[str, Callable[[], subprocess.Popen[bytes] | None]] = {}
        for server in servers:
            supervisor.add("postgresql", server.ensure_running, server.running)
        for spec in (*SERVICES, GATEWAY):
            start, alive, process = process_child(spec.name, functools.partial(_start, spec, env))
            supervisor.add(spec.name, start, alive)
            current[spec.name] = process
        try:
            supervisor.start_all()
            for spec in (*SERVICES, GATEWAY):
                _wait_healthy(spec, current[spec.name]())
            # Scoring's demo history reads the registry over HTTP, so it loads once the registry answers;
            # what it could not announce, the running scoring service's certificate job retries.
            if demo and not seed_scoring_demo(urls):
                _say("scoring: the demo's history did not load completely (see above); running anyway")
            if demo and not seed_stamps_demo(urls):
                _say("stamps: the demo's stamps were not issued (see above); running anyway")
            _say("the OCOP platform is running:")
            for spec in (GATEWAY, *SERVICES):
                url = f"http://{HOST}:{port_of(spec)}"
                _say(f"  {spec.name:<9} {url}  (docs: {url}/docs)")
            _say("press Ctrl-C to stop")
            while not stopping:
                supervisor.poll()
                if servers:
                    reap_orphans({p.pid for get in current.values() if (p := get()) is not None})
                time.sleep(0.2)
        finally:
            _say("stopping")
            _stop_all({name: p for name, get in current.items() if (p := get()) is not None})
    return 0


async def _events(url: str, schema: str, action: str, event: str | None, destination: str | None) -> int:
    """List a service's dead letters, or put them back in line (``ocop events``)."""
    tables = outbox_tables(schema_metadata(schema))
    store = Database.connect(url, application_name="ocop-events", pool_size=1, max_overflow=0)
    try:
        async with store.sessionmaker.begin() as session:
            if action == "replay":
                event_id = uuid.UUID(event) if event else None
                replayed = await replay_dead_letters(
                    session, tables, channel(schema), event_id=event_id, destination=destination
                )
                _say(f"{schema}: {replayed} dead letters put back in line")
                return 0
            cursor = None
            while True:
                page = await list_deliveries(
                    session, tables, status="dead", destination_prefix=destination, limit=500, cursor=cursor
                )
                for row in page.items:
                    print(  # noqa: T201
                        f"{row.event_id}  {row.type:<32} {row.subject:<46} -> {row.destination:<12}"
                        f" {row.attempts} attempts, last {row.last_status or '-'}: {(row.last_error or '')[:120]}"
                    )
                if page.next_cursor is None:
                    return 0
                cursor = page.next_cursor
    finally:
        await store.dispose()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ocop`` console script."""
    parser = argparse.ArgumentParser(prog="ocop", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("up", help="set up the database and run all four processes")
    run.add_argument("--demo", action=argparse.BooleanOptionalAction, default=True, help="load demo data")
    commands.add_parser("migrate", help="create roles and schemas and run every migration")
    seed_cmd = commands.add_parser("seed", help="load reference data (and demo data with --demo)")
    seed_cmd.add_argument("--demo", action="store_true", help="also load the demo data set")
    token = commands.add_parser("token", help="print a development token for a principal")
    token.add_argument(
        "--role", required=True, choices=[role.value for role in Role if role is not Role.anonymous]
    )
    token.add_argument("--scope", help="entity id (producer), commune or province code (officers)")
    token.add_argument("--sub", default="dev-user")
    token.add_argument("--ttl", type=int, default=900, help="seconds (default 900)")
    events = commands.add_parser("events", help="integration events: list dead letters, replay them")
    events.add_argument("action", choices=["dead-letters", "replay"])
    events.add_argument(
        "--service", required=True, choices=[spec.name for spec in SERVICES if spec.name in OUTBOXES]
    )
    events.add_argument("--event", help="only this event id")
    events.add_argument("--destination", help="only this destination (dead-letters: names starting with it)")
    args = parser.parse_args(argv)

    if args.command == "up":
        return up(demo=args.demo)
    if args.command == "token":
        print(dev_token(Principal(sub=args.sub, role=Role(args.role), scope=args.scope), ttl_s=args.ttl))  # noqa: T201
        return 0
    with database() as admin_url:
        if args.command == "events":
            url = service_urls(admin_url)[args.service]
            return asyncio.run(_events(url, args.service, args.action, args.event, args.destination))
        if args.command == "migrate":
            prepare(admin_url)
        else:
            urls = service_urls(admin_url)
            seed(urls, demo=args.demo)
            if args.demo:
                seed_with_registry(urls)
    return 0


if __name__ == "__main__":
    sys.exit(main())
