"""Load the demo's history into scoring, from the registry's demo products over HTTP; its events tell the registry.

What it writes, once (a database that already holds the demo's provincial council is left alone):

* **Councils**: Quảng Ninh's provincial council and the central council, set up as an administrator
  would (they stay active, for trying the workflow), and, as history, the council of every former
  district whose People's Committee certified a demo product's 3★ under Decisions 781 and 148 —
  inactive since the districts were abolished (1 July 2025).
* **Rounds**: per council and half-year, the round whose dossiers closed on the cut-off before each
  decision (30 June and 30 December for the province and the districts, 30 March and 30 September
  centrally), recorded closed on its last decision; only rounds that decided something.
* **A dossier, a result and a certificate for every certificate of every chain** (``plan.py``), in
  the order they were decided: the dossier (new, re-rating or upgrade) holds the registry's product
  and entity as its snapshot and its result an average in its star's band under the rules in force
  that day (a seeded generator: the same figures every load), written by
  ``applications.service.record_historical_result``; the certificate by
  ``certificates.service.record_issue``, which supersedes the product's previous one.

Certificates are issued as they were on their day (``status_on`` = the issue day, so each is in
force when issued and superseded on its successor's day). Every issue and supersession emits its
``scoring.certificate.*`` event in the same transaction, and the relay delivers a product's events in
the order they were emitted, so the registry sees each first certificate in force (its rating year
is the year of the first certificate it saw in force) before its successor supersedes it, as it did
in real life. Everything scoring writes is one transaction: a load that fails halfway leaves nothing,
not even events. After the commit the certificate job (``certificates.runner.run_once``, as the
running service does) moves every certificate to where it stands today (expiring, expired), which
emits those events too.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.applications import service as applications
from services.scoring.certificates import runner
from services.scoring.certificates import service as certificates
from services.scoring.councils import service as councils
from services.scoring.councils.models import Council, Round
from services.scoring.councils.schemas import CouncilCreate
from services.scoring.criteria import versions
from services.scoring.demo import people
from services.scoring.demo.plan import MINISTRY, MINISTRY_BEFORE_2025, PlannedCertificate, chain, read_plan
from services.scoring.registry import RegistryClient
from shared import clock
from shared.db import Database
from shared.security.principal import Principal, Role

# Who the demo's history is recorded as (the audit log's actor).
DEMO = Principal(sub="scoring:demo", role=Role.admin)
PROVINCE_CODE = "22"
COUNCIL = "Hội đồng đánh giá, phân hạng sản phẩm OCOP"
# Where each council sits (a district council's key is its district, "thành phố Hạ Long").
WHERE = {"province": "tỉnh Quảng Ninh", "central": "cấp Trung ương"}
PROVINCE_COUNCIL = f"{COUNCIL} {WHERE['province']}"
SEED = 2021
PAGE = 200
# Cut-off days (month, day) of each level's rounds: dossiers close then, the council decides after.
CUT_OFFS = {"province": ((6, 30), (12, 30)), "district": ((6, 30), (12, 30)), "central": ((3, 30), (9, 30))}
DECIDED_AT_HOUR = 9


class DemoNotRegistered(RuntimeError):
    """The registry does not hold the demo's entities and products (load its demo first)."""


@dataclass(frozen=True)
class DemoReport:
    """What a load wrote, and how long it took."""

    councils: int
    rounds: int
    results: int
    certificates: int
    current_by_star: dict[int, int]
    moved_since: int  # certificates the job then moved to where they stand today
    seconds: float


# The registry, read over HTTP


async def _pages(registry: RegistryClient, path: str, **filters: str) -> list[dict[str, Any]]:
    """Every item of a registry listing, page after page."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**filters, "limit": str(PAGE), **({"cursor": cursor} if cursor else {})}
        answer = await registry.get(f"{path}?{urlencode(query)}")
        if answer.status != 200 or not isinstance(answer.body, dict):
            raise DemoNotRegistered(f"the registry answered {answer.status} to GET {path}: {answer.body}")
        items += answer.body["items"]
        cursor = answer.body.get("next_cursor")
        if not cursor:
            return items


@dataclass(frozen=True)
class Registered:
    """A planned product as the registry holds it: the records a dossier snapshots."""

    product: dict[str, Any]
    entity: dict[str, Any]


async def _registered(registry: RegistryClient, tax_codes: set[str]) -> dict[tuple[str, str], Registered]:
    """The registry's demo products still awaiting their first rating, by (tax code, name)."""
    entities = {
        entity["id"]: entity
        for entity in await _pages(registry, "/v1/entities", province_code=PROVINCE_CODE)
        if entity["tax_code"] in tax_codes
    }
    found = {}
    for product in await _pages(registry, "/v1/products", status="ready_for_evaluation"):
        entity = entities.get(product["entity_id"])
        if entity is not None:
            found[(entity["tax_code"], product["name"])] = Registered(product, entity)
    return found


# Councils and rounds


def _council_key(certificate: PlannedCertificate) -> str:
    return certificate.product.district if certificate.level == "district" else certificate.level


def _cut_off(level: str, day: date) -> date:
    """The latest cut-off of ``level``'s rounds before ``day``."""
    candidates = [
        date(year, month, dom) for year in (day.year - 1, day.year) for month, dom in CUT_OFFS[level]
    ]
    return max(cut_off for cut_off in candidates if cut_off < day)


def _round_name(level: str, where: str, cut_off: date) -> str:
    half = 1 + CUT_OFFS[level].index((cut_off.month, cut_off.day))
    return f"Kỳ đánh giá, phân hạng sản phẩm OCOP {where}, đợt {half} năm {cut_off.year}"


def _decided_at(day: date) -> datetime:
    """When a decision of ``day`` was taken (its morning in Vietnam; never later than now)."""
    return min(datetime(day.year, day.month, day.day, DECIDED_AT_HOUR, tzinfo=clock.VIETNAM), clock.now())


async def _councils(session: AsyncSession, districts: Iterable[str]) -> dict[str, Council]:
    """The province's and the central council (live), and the districts' (history), by key."""
    made = {
        "province": CouncilCreate(name=PROVINCE_COUNCIL, level="province", province_code=PROVINCE_CODE),
        "central": CouncilCreate(name=f"{COUNCIL} {WHERE['central']}", level="central"),
    }
    seats = {"province": ("qn", people.PROVINCE), "central": ("tw", people.CENTRAL)}
    councils_by_key: dict[str, Council] = {}
    for key, data in made.items():
        council = await councils.create_council(session, principal=DEMO, data=data)
        for member in people.members(*seats[key]):
            await councils.add_member(session, principal=DEMO, council_id=council.id, data=member)
        councils_by_key[key] = council
    for number, district in enumerate(sorted(districts), start=1):
        councils_by_key[district] = await councils.record_historical_council(
            session, actor=DEMO, name=f"{COUNCIL} {district}", level="district", province_code=PROVINCE_CODE,
            members=people.members(f"qn-h{number:02d}", people.district_seats(district)), active=False,
        )  # fmt: skip
    return councils_by_key


# Results


def _result_figures(rng: random.Random, version: versions.CriteriaVersion, star: int) -> dict[str, Decimal]:
    """An average in ``star``'s band, parts within the version's maxima adding up to it, and a spread."""
    lower, upper = next((low, high) for band, low, high in version.bands if band == star)
    top = min(upper, Decimal(96)) if star == max(version.certifiable_stars) else upper - Decimal("0.01")
    average = Decimal(rng.randint(int(lower * 100), int(top * 100))) / 100
    maxima = version.part_maxima
    a, b = ((average * maxima[part] / 100).quantize(Decimal("0.01")) for part in ("A", "B"))
    shift = Decimal(rng.randint(-150, 150)) / 100
    if Decimal(0) <= a + shift <= maxima["A"] and Decimal(0) <= average - a - shift - b <= maxima["C"]:
        a += shift
    return {
        "average_total": average,
        "A": a,
        "B": b,
        "C": average - a - b,
        "spread": Decimal(rng.randint(50, 900)) / 100,
    }


def _decision_numbers(planned: list[PlannedCertificate]) -> dict[tuple[str, date], str]:
    """One decision per authority and day (a known one keeps its number; the others are marked DEMO)."""
    numbers = {(c.issuing_authority, c.issued_on): c.decision_number for c in planned if c.decision_number}
    sequence: Counter[tuple[str, int]] = Counter()
    for certificate in planned:
        key = (certificate.issuing_authority, certificate.issued_on)
        if key in numbers:
            continue
        sequence[(key[0], key[1].year)] += 1
        office = {MINISTRY_BEFORE_2025: "QĐ-BNN-VPĐP", MINISTRY: "QĐ-BNNMT"}.get(key[0], "QĐ-UBND")
        numbers[key] = f"DEMO-{sequence[(key[0], key[1].year)]:03d}/{office}"
    return numbers


# Loading


async def demo_loaded(session: AsyncSession) -> bool:
    """Whether scoring already holds the demo (its provincial council is set up)."""
    page = await councils.list_councils(
        session, principal=DEMO, level="province", province_code=PROVINCE_CODE, limit=PAGE, cursor=None
    )
    return any(council.name == PROVINCE_COUNCIL for council in page.items)


async def _load(session: AsyncSession, registry: RegistryClient, today: date) -> DemoReport:
    plan = read_plan()
    order = {(p.tax_code, p.product_name): index for index, p in enumerate(plan)}
    registered = await _registered(registry, {product.tax_code for product in plan})
    missing = [key for key in order if key not in registered]
    if missing:
        raise DemoNotRegistered(
            f"the registry holds {len(order) - len(missing)} of the {len(order)} demo products awaiting their first"
            f" rating (missing: {missing[:3]}…): load the registry's demo first (python -m"
            " services.registry.commands.seed --demo); a database whose registry demo was certified by an earlier"
            " version of the demo (before scoring decided its ratings) must be made afresh (remove .ocop/)"
        )
    planned = sorted(
        (certificate for product in plan for certificate in chain(product, today)),
        key=lambda c: (c.issued_on, order[(c.product.tax_code, c.product.product_name)]),
    )
    made = await _councils(session, {c.product.district for c in planned if c.level == "district"})
    held: dict[tuple[str, date], list[PlannedCertificate]] = defaultdict(list)
    for certificate in planned:
        held[(_council_key(certificate), _cut_off(certificate.level, certificate.issued_on))].append(
            certificate
        )
    # Held (not just their ids) so the session keeps them at hand for every dossier of the round.
    rounds: dict[tuple[str, date], Round] = {}
    for (key, cut_off), decided in sorted(held.items(), key=lambda item: (item[0][1], item[0][0])):
        council = made[key]
        round_ = await councils.record_historical_round(
            session, actor=DEMO, council_id=council.id, name=_round_name(council.level, WHERE.get(key, key), cut_off),
            cut_off=cut_off, closed_at=max(_decided_at(c.issued_on) for c in decided),
        )  # fmt: skip
        rounds[(key, cut_off)] = round_
    decisions = _decision_numbers(planned)
    # Reproducible demo figures, not secrets: a seeded PRNG is the point.
    rng = random.Random(SEED)  # noqa: S311
    # Each certificate emits its events as it is issued and superseded, in the order of the history, and
    # the relay keeps a product's events in that order: the registry sees every first certificate in
    # force (its rating year) before its successor supersedes it, as it did in real life.
    for certificate in planned:
        await _decide(session, rng, certificate, registered, rounds, decisions)
    current = Counter(chain(product, today)[-1].star for product in plan if product.renewed)
    report = DemoReport(
        councils=len(made), rounds=len(rounds), results=len(planned), certificates=len(planned),
        current_by_star=dict(sorted(current.items())), moved_since=0, seconds=0.0,
    )  # fmt: skip
    return report


async def _decide(
    session: AsyncSession,
    rng: random.Random,
    certificate: PlannedCertificate,
    registered: dict[tuple[str, str], Registered],
    rounds: dict[tuple[str, date], Round],
    decisions: dict[tuple[str, date], str],
) -> None:
    """The dossier, result and certificate of one planned certificate."""
    records = registered[(certificate.product.tax_code, certificate.product.product_name)]
    version = versions.regime(certificate.criteria_version)
    cut_off = _cut_off(certificate.level, certificate.issued_on)
    figures = _result_figures(rng, version, certificate.star)
    submitted_on = cut_off - timedelta(days=rng.randint(0, 60))
    result = await applications.record_historical_result(
        session, actor=DEMO, product=records.product, entity=records.entity,
        application_type=certificate.application_type, round_id=rounds[(_council_key(certificate), cut_off)].id,
        criteria_version=version.code,
        submitted_at=datetime(submitted_on.year, submitted_on.month, submitted_on.day, 15, tzinfo=clock.VIETNAM),
        decided_at=_decided_at(certificate.issued_on), star=certificate.star,
        average_total=figures["average_total"], parts={part: figures[part] for part in ("A", "B", "C")},
        spread=figures["spread"],
    )  # fmt: skip
    product, entity = records.product, records.entity
    facts = certificates.IssueFacts(
        product_id=result.product_id, entity_id=result.entity_id, province_code=result.province_code,
        commune_code=product["commune_code"], product_set=int(product["product_set"]), product_name=product["name"],
        entity_name=entity["legal_name"], star=result.star, level=result.level,
        criteria_version=result.criteria_version, application_id=result.application_id, result_id=result.id,
    )  # fmt: skip
    await certificates.record_issue(
        session, actor=DEMO, facts=facts,
        decision_number=decisions[(certificate.issuing_authority, certificate.issued_on)],
        issuing_authority=certificate.issuing_authority, issued_on=certificate.issued_on,
        status_on=certificate.issued_on,
    )  # fmt: skip


async def load_demo(database: Database, registry: RegistryClient, today: date) -> DemoReport | None:
    """Load the demo's history as of ``today`` (None if it was already there), then move it to today.

    The registry must hold its demo (``python -m services.registry.commands.seed --demo``) and answer.
    Everything it writes emits its events; the relay delivers them.
    """
    started = time.perf_counter()
    async with database.sessionmaker.begin() as session:
        loaded = None if await demo_loaded(session) else await _load(session, registry, today)
    moved = await runner.run_once(database)
    if loaded is None:
        return None
    return dataclasses.replace(loaded, moved_since=moved, seconds=time.perf_counter() - started)
