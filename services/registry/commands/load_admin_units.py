"""Load a national list of administrative units from CSV into the registry.

    python -m services.registry.commands.load_admin_units --pre units-before-2025.csv [--post units-2025.csv]

The pre-reform file has the columns code,name,level,type,parent_code; the file of units from 1 July
2025 adds merged_from (the earlier codes each unit was formed from, ";"-separated) and optionally
merged_from_partial (those that gave only part of their area), exactly like the shipped Quảng Ninh
files in services/registry/reference/. Everything is checked first and written in one transaction;
on any fault nothing is written and every fault is printed by file, row and column. Loading the
same files again changes nothing. The database is REGISTRY_DATABASE_URL unless --database-url is given.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from services.registry.admin_units import loading
from services.registry.admin_units.errors import AdminUnitDataInvalid
from services.registry.config import get_settings
from shared.db import Database

EXIT_INVALID = 1


def _read(path: Path) -> str:
    """The file's text; undecodable bytes are reported like any other row fault."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = data[: exc.start].count(b"\n") + 1
        raise AdminUnitDataInvalid(
            [
                {
                    "file": path.name,
                    "row": row,
                    "column": None,
                    "message": "not UTF-8 text (save the file as UTF-8)",
                }
            ]
        ) from exc


async def load_files(
    database_url: str, pre: Path, post: Path | None, *, dry_run: bool = False
) -> loading.LoadReport:
    """Check the files and load them in one transaction (rolled back when ``dry_run``)."""
    pre_text, post_text = _read(pre), _read(post) if post is not None else None
    plan = loading.build_plan(pre_text, post_text, pre_file=pre.name, post_file=post.name if post else "post")
    database = Database.connect(database_url, application_name="registry-admin-units-load", pool_size=1)
    try:
        async with database.sessionmaker() as session:
            transaction = await session.begin()
            report = await loading.apply_plan(session, plan)
            await (transaction.rollback() if dry_run else transaction.commit())
            return report
    finally:
        await database.dispose()


async def run(argv: list[str] | None = None) -> int:
    """The command with these arguments; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m services.registry.commands.load_admin_units",
        description="Load administrative units (before and from 1 July 2025) from CSV files.",
    )
    parser.add_argument("--pre", type=Path, required=True, help="units before 1 July 2025 (CSV)")
    parser.add_argument("--post", type=Path, help="units from 1 July 2025 with merged_from (CSV)")
    parser.add_argument("--database-url", help="defaults to REGISTRY_DATABASE_URL")
    parser.add_argument("--dry-run", action="store_true", help="check and report, then roll back")
    args = parser.parse_args(argv)
    database_url = args.database_url or get_settings().database_url.get_secret_value()
    if not database_url:
        parser.error("set REGISTRY_DATABASE_URL or pass --database-url")
    for path in (args.pre, args.post):
        if path is not None and not path.is_file():
            parser.error(f"no such file: {path}")
    try:
        report = await load_files(database_url, args.pre, args.post, dry_run=args.dry_run)
    except AdminUnitDataInvalid as exc:
        for error in exc.row_errors:
            sys.stderr.write(f"{loading.RowError(**error)}\n")
        sys.stderr.write(f"{len(exc.row_errors)} error(s); nothing was written\n")
        return EXIT_INVALID
    sys.stdout.write(
        f"units: {report.units_inserted} inserted, {report.units_updated} updated, "
        f"{report.units_unchanged} unchanged; successions: {report.successions_inserted} inserted, "
        f"{report.successions_updated} updated, {report.successions_deleted} deleted"
        f"{' (dry run: rolled back)' if args.dry_run else ''}\n"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    return asyncio.run(run(argv))


if __name__ == "__main__":
    sys.exit(main())
