"""A child for tests/shared/test_children.py: notes its start, waits for its stop signal, notes its stop.

python -m tests.support.stoppable_child MARKER [--exit-with-parent]
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from shared.children import WITH_PARENT, stop_signal


async def main(marker: Path, *, with_parent: bool) -> None:
    """Write "started", wait to be told to stop, write "stopped"."""
    stopping = stop_signal(with_parent)
    await asyncio.to_thread(marker.write_text, "started")
    await stopping.wait()
    await asyncio.to_thread(marker.write_text, "stopped")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), with_parent=WITH_PARENT in sys.argv))
