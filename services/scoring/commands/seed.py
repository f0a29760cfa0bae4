"""Load the scoring service's demo history: councils, rounds, results and certificates of the registry's demo.

    python -m services.scoring.commands.seed [--demo]

Scoring's reference data (criteria versions, product sets, generic score sheets) comes with its
migrations, so without ``--demo`` there is nothing to load. With ``--demo`` it reads the registry's
demo entities and products over HTTP (SCORING_REGISTRY_URL, with this service's token: the registry
must be running and hold its demo, ``python -m services.registry.commands.seed --demo``), records
the history of ``services/scoring/demo/ratings.csv`` once — a database that already holds it is left
as it is — and delivers the events of every certificate to its subscribers (the registry:
SCORING_EVENTS__SUBSCRIBERS) until none is left; running it again changes nothing. ``ocop up --demo`` and ``ocop seed --demo`` run it once the registry answers.
The database is SCORING_DATABASE_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time

from services.scoring.config import get_settings
from services.scoring.db import SCHEMA
from services.scoring.demo.loader import load_demo
from services.scoring.registry import RegistryClient
from shared import clock
from shared.db import Database, asyncpg_dsn
from shared.events.relay import Relay
from shared.events.settings import EventSettings
from shared.http import DeliveryClient
from shared.security.jwt import TokenSigner
from shared.security.service_tokens import ServiceIdentity

logger = logging.getLogger("services.scoring.commands.seed")
# The demo emits about two thousand events; a loaded machine delivers them within a minute.
DELIVERY_DEADLINE_S = 300.0
# Nothing delivered for this long (a subscriber down or refusing): the rest is left to the service's relay.
STALLED_AFTER_S = 30.0


async def seed(
    database_url: str,
    registry: RegistryClient,
    *,
    events: EventSettings,
    delivery: DeliveryClient | None = None,
) -> bool:
    """Load the demo history, then deliver its events; whether every one has reached its subscribers.

    The running service's relay would deliver them too (and retries what is left); delivering here
    makes ``ocop seed --demo`` complete on its own. ``delivery`` replaces the network (tests).
    """
    database = Database.connect(database_url, application_name="scoring-seed", pool_size=2, max_overflow=0)
    try:
        report = await load_demo(database, registry, clock.today())
    finally:
        await database.dispose()
        await registry.aclose()
    if report is None:
        logger.info("scoring's demo history was already there")
    else:
        logger.info(
            "scoring demo history loaded in %.1f s: %d councils, %d rounds, %d results and certificates"
            " (in force by star: %s; %d moved on to today's status)",
            report.seconds, report.councils, report.rounds, report.certificates, report.current_by_star,
            report.moved_since,
        )  # fmt: skip
    relay = Relay(dsn=asyncpg_dsn(database_url), schema=SCHEMA, settings=events, client=delivery)
    try:
        started = time.perf_counter()
        left = await _deliver_all(relay)
    finally:
        await relay.stop()
    logger.info(
        "its events delivered in %.1f s; %d left for the service's relay", time.perf_counter() - started, left
    )
    return left == 0


async def _deliver_all(relay: Relay) -> int:
    """Deliver until nothing is left, or nothing moved for a while; how many are left.

    The running service's relay may be delivering the same outbox (``ocop up``): what it holds is not
    this relay's to claim, so the seed waits for it instead of reporting those events as left over.
    """
    left, moved_at = await relay.undelivered(), time.monotonic()
    while left:
        await relay.drain(timeout_s=DELIVERY_DEADLINE_S)
        now_left = await relay.undelivered()
        if now_left < left:
            left, moved_at = now_left, time.monotonic()
        elif time.monotonic() - moved_at > STALLED_AFTER_S:
            break
        else:
            await asyncio.sleep(0.5)
    return left


def main(argv: list[str] | None = None) -> None:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m services.scoring.commands.seed", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--demo", action="store_true", help="also load the demo history (once)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per announcement is noise here
    if not args.demo:
        logger.info("scoring's reference data comes with its migrations: nothing to load")
        return
    settings = get_settings()
    url = settings.database_url.get_secret_value()
    if not url:
        parser.error("SCORING_DATABASE_URL is not set")
    key = settings.service_signing_key.get_secret_value()
    if not key:
        parser.error("SCORING_SERVICE_SIGNING_KEY is not set: scoring reads the registry with its own token")
    signer = TokenSigner(key, kid=settings.service_key_id, issuer=settings.jwt_issuer)
    identity = ServiceIdentity(signer, name="scoring", audience=settings.jwt_audience)
    # A loaded machine answers slower than a request's usual budget; the seed waits longer.
    registry = RegistryClient(
        settings.registry_url, identity, timeout_s=max(settings.registry_timeout_s, 30.0)
    )
    if not asyncio.run(seed(url, registry, events=settings.events)):
        sys.exit(1)


if __name__ == "__main__":
    main()
