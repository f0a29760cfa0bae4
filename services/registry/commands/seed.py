"""Load the registry's reference data and, with ``--demo``, the demo data set.

    python -m services.registry.commands.seed [--demo]

Reference data (the administrative units of services/registry/reference) is always loaded; the
demo data set (services/registry/demo: its entities and products) is loaded once — a database that
already holds it is left as it is, so running this again changes nothing. Everything is written in
one transaction. The demo's ratings and certificates are scoring's (``python -m
services.scoring.commands.seed --demo``, run once the registry answers). The database is
REGISTRY_DATABASE_URL (``ocop seed`` and ``ocop up`` set it).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time

from services.registry.admin_units import loading as admin_units_loading
from services.registry.config import get_settings
from services.registry.demo.loader import load_demo
from shared import clock
from shared.db import Database

logger = logging.getLogger("services.registry.commands.seed")


async def seed(database_url: str, *, demo: bool) -> None:
    """Load reference data, and the demo data set when asked, in one transaction."""
    database = Database.connect(database_url, application_name="registry-seed", pool_size=1, max_overflow=0)
    started = time.perf_counter()
    try:
        async with database.sessionmaker.begin() as session:
            await admin_units_loading.load_reference_data(session)
            report = await load_demo(session, clock.today()) if demo else None
    finally:
        await database.dispose()
    elapsed = time.perf_counter() - started
    if not demo:
        logger.info("registry reference data loaded in %.1f s", elapsed)
    elif report is None:
        logger.info("registry reference data loaded; the demo data set was already there (%.1f s)", elapsed)
    else:
        logger.info(
            "registry demo data loaded in %.1f s: %d entities, %d products (%d of them for scoring's demo to rate)",
            elapsed, report.entities, report.products, report.planned_ratings,
        )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m services.registry.commands.seed", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--demo", action="store_true", help="also load the demo data set (once)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    url = get_settings().database_url.get_secret_value()
    if not url:
        parser.error("REGISTRY_DATABASE_URL is not set")
    asyncio.run(seed(url, demo=args.demo))


if __name__ == "__main__":
    main()
