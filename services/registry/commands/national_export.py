"""Post every product in the public catalogue to the national OCOP system (its initial load).

    python -m services.registry.commands.national_export [--dry-run] [--page-size 500]

Reads the registry's settings from the environment (``REGISTRY_DATABASE_URL``, ``REGISTRY_NATIONAL_*``);
prints a summary as JSON. Exit status: 0 all accepted, 1 the endpoint refused something, 2 no
national URL configured. See docs/EVENTS.md, "The initial load".
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys

import orjson

from services.registry.config import RegistrySettings
from services.registry.national.destination import national_destination
from services.registry.national.service import ExportSummary, export_catalogue
from shared.db import create_read_pool
from shared.http import DeliveryClient


async def run(settings: RegistrySettings, *, dry_run: bool, page_size: int) -> ExportSummary:
    """The export with ``settings``; a dry run reads and renders, and posts nothing."""
    destination = None if dry_run else national_destination(settings)
    pool = await create_read_pool(
        settings.database_url.get_secret_value(), application_name="registry-national-export",
        min_size=1, max_size=1, statement_timeout_ms=settings.db_statement_timeout_ms,
    )  # fmt: skip
    client = None if destination is None else DeliveryClient(timeout_s=settings.national_timeout_s)
    try:
        return await export_catalogue(pool, destination=destination, client=client, page_size=page_size)
    finally:
        if client is not None:
            await client.aclose()
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m services.registry.commands.national_export", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--dry-run", action="store_true", help="read and render everything, post nothing")
    parser.add_argument("--page-size", type=int, default=500, help="products read per statement (1–5000)")
    args = parser.parse_args(argv)
    if not 1 <= args.page_size <= 5000:
        parser.error("--page-size must be between 1 and 5000")
    settings = RegistrySettings()
    if not settings.national_url and not args.dry_run:
        sys.stderr.write("REGISTRY_NATIONAL_URL is not set: there is no national system to export to\n")
        return 2
    summary = asyncio.run(run(settings, dry_run=args.dry_run, page_size=args.page_size))
    sys.stdout.write(orjson.dumps(dataclasses.asdict(summary)).decode() + "\n")
    return 1 if summary.refused else 0


if __name__ == "__main__":
    sys.exit(main())
