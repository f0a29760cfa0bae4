"""Publish the catalogue's current state as registry.catalogue.* events.

    python -m services.registry.commands.catalogue_feed --full

Compares every product in the catalogue (and every one last published as in it) with what the feed
last published, and emits the events that bring subscribers up to date: the first time, every
product is ``product_added``; run again, it emits nothing unless something changed unannounced (a
restore, a certificate that ran out without its event). One transaction; the relay delivers after
it commits. The database is REGISTRY_DATABASE_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from services.registry.catalogue_feed.service import Published, publish_all
from services.registry.config import get_settings
from shared.db import Database

logger = logging.getLogger("services.registry.commands.catalogue_feed")


async def full_load(database_url: str) -> Published:
    """Publish the whole catalogue's state in one transaction; how many events of each type."""
    database = Database.connect(database_url, application_name="catalogue-feed", pool_size=1, max_overflow=0)
    try:
        async with database.sessionmaker.begin() as session:
            return await publish_all(session)
    finally:
        await database.dispose()


def main(argv: list[str] | None = None) -> None:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m services.registry.commands.catalogue_feed", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--full", action="store_true", help="publish the whole catalogue's state")
    args = parser.parse_args(argv)
    if not args.full:
        parser.error("say --full to publish the whole catalogue's state")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    url = get_settings().database_url.get_secret_value()
    if not url:
        parser.error("REGISTRY_DATABASE_URL is not set")
    published = asyncio.run(full_load(url))
    logger.info(
        "catalogue feed: %d added, %d changed, %d removed",
        published.added,
        published.changed,
        published.removed,
    )


if __name__ == "__main__":
    main()
