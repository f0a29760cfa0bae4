"""Issue and activate the demo's e-stamps, and print links to verify them.

    python -m services.stamps.commands.seed --demo [--base-url http://127.0.0.1:8000] [--wait 120]

Run by ``ocop up --demo`` once the four processes answer and scoring's demo has certified its products:
their certificates reach the stamps service as events, so this waits (``--wait`` seconds) until the
snapshot holds certified products with a GTIN. For each of the first ``PRODUCTS`` of them (by name) a
batch of ``STAMPS`` stamps is requested, approved, generated, issued and activated through the stamps
service's own functions, as a demo administrator; one stamp of the first is then revoked. A database that
already holds the demo's batches is left as it is. The links (one genuine, one revoked, one unknown) are
printed and written to ``.ocop/demo-links.txt``. The database is STAMPS_DATABASE_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from services.stamps.batches import runner
from services.stamps.batches import service as batches
from services.stamps.batches.schemas import BatchCreate
from services.stamps.config import get_settings
from services.stamps.lifecycle import service as lifecycle
from services.stamps.lifecycle.schemas import StampChangeRequest
from services.stamps.snapshot import service as snapshot
from shared import clock, gs1
from shared.db import Database, asyncpg_dsn
from shared.security.principal import Principal, Role
from shared.topology import REPO_ROOT

logger = logging.getLogger("services.stamps.commands.seed")

DEMO = Principal(sub="demo-seed", role=Role.admin)
PRODUCTS = 6
STAMPS = 24
LOT = "L2611A"
LINKS_FILE = REPO_ROOT / ".ocop" / "demo-links.txt"


@dataclass(frozen=True)
class DemoLinks:
    """The three links the README shows: a genuine stamp, a revoked one, a code that is no stamp."""

    genuine: str
    revoked: str
    unknown: str
    batch_id: uuid.UUID


async def _stampable(database: Database, wait_s: float) -> list[uuid.UUID]:
    deadline = time.monotonic() + wait_s
    while True:
        async with database.sessionmaker() as session:
            found = await snapshot.stampable_products(session, today=clock.today(), limit=PRODUCTS)
        if len(found) >= PRODUCTS or (found and time.monotonic() > deadline - wait_s / 2):
            return found
        if time.monotonic() > deadline:
            return found
        await asyncio.sleep(1.0)


async def _stamp(database: Database, dsn: str, product_id: uuid.UUID) -> uuid.UUID:
    """A batch of the product's stamps, requested, approved, generated, issued and activated."""
    today = clock.today()
    async with database.sessionmaker.begin() as session:
        requested = await batches.request_batch(
            session, principal=DEMO, data=BatchCreate(product_id=product_id, quantity=STAMPS, lot=LOT),
            max_batch=STAMPS, today=today,
        )  # fmt: skip
        batch_id: uuid.UUID = requested.batch.id
        await batches.decide(session, principal=DEMO, batch_id=batch_id, approve=True, reason=None)
    connection = await asyncpg.connect(dsn)
    try:
        await runner.generate(connection, batch_id)
    finally:
        await connection.close()
    made = today - timedelta(days=7)
    async with database.sessionmaker.begin() as session:
        await lifecycle.change_states(
            session, principal=DEMO, action="issue", data=StampChangeRequest(batch_id=batch_id), today=today
        )
        activation = StampChangeRequest(
            batch_id=batch_id, lot=LOT, production_date=made, expiry_date=made + timedelta(days=365)
        )
        await lifecycle.change_states(
            session, principal=DEMO, action="activate", data=activation, today=today
        )
    return batch_id


async def seed(database_url: str, *, base_url: str, wait_s: float) -> DemoLinks | None:
    """Stamp the demo's products once; the links to show (None: no certified product arrived in time)."""
    database = Database.connect(database_url, application_name="stamps-seed", pool_size=1, max_overflow=0)
    try:
        async with database.sessionmaker() as session:
            existing = await lifecycle.demo_stamps(session, requested_by=DEMO.sub)
        if existing is None:
            products = await _stampable(database, wait_s)
            if not products:
                return None
            batch_ids = [await _stamp(database, asyncpg_dsn(database_url), product) for product in products]
            async with database.sessionmaker() as session:
                first = await lifecycle.demo_stamps(session, requested_by=DEMO.sub, batch_id=batch_ids[0])
            if first is None or not first.active:
                raise RuntimeError("the demo's first batch has no active stamp to revoke")
            async with database.sessionmaker.begin() as session:
                revoke = StampChangeRequest(serials=[first.active[-1]], reason="Demo: tem bị báo mất cắp")
                await lifecycle.change_states(
                    session, principal=DEMO, action="revoke", data=revoke, today=clock.today()
                )
            logger.info("stamps demo: %d batches of %d stamps issued and activated", len(batch_ids), STAMPS)
        async with database.sessionmaker() as session:
            shown = await lifecycle.demo_stamps(session, requested_by=DEMO.sub)
    finally:
        await database.dispose()
    if shown is None or not shown.active or not shown.revoked:
        raise RuntimeError("the demo's first batch has lost its active or revoked stamps")
    genuine = gs1.digital_link(shown.gtin, shown.active[0], shown.lot).path()
    revoked = gs1.digital_link(shown.gtin, shown.revoked[0], shown.lot).path()
    unknown = gs1.digital_link(shown.gtin, gs1.new_serial(), shown.lot).path()
    return DemoLinks(base_url + genuine, base_url + revoked, base_url + unknown, shown.batch_id)


def main(argv: list[str] | None = None) -> None:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m services.stamps.commands.seed", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--demo", action="store_true", help="issue and activate the demo's stamps (once)")
    parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="the gateway the links point at")
    parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait for certified products")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.demo:
        logger.info("the stamps service has no reference data to load")
        return
    url = get_settings().database_url.get_secret_value()
    if not url:
        parser.error("STAMPS_DATABASE_URL is not set")
    links = asyncio.run(seed(url, base_url=args.base_url.rstrip("/"), wait_s=args.wait))
    if links is None:
        logger.error("stamps demo: no certified product with a GTIN reached the stamps service in time")
        sys.exit(1)
    text = (
        f"genuine:  {links.genuine}\nrevoked:  {links.revoked}\nunknown:  {links.unknown}\n"
        f"labels:   {args.base_url.rstrip('/')}/v1/stamp-batches/{links.batch_id}/labels.pdf\n"
    )
    LINKS_FILE.parent.mkdir(parents=True, exist_ok=True)
    LINKS_FILE.write_text(text, encoding="utf-8")
    sys.stdout.write("demo stamps, open in a browser (or with Accept: application/json):\n" + text)


if __name__ == "__main__":
    main()
