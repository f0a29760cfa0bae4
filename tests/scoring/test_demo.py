"""The demo's history (``ocop seed --demo``): scoring's councils, rounds, results and certificates, and the
registry's catalogue agreeing with them row for row."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from services.registry.demo.generator import FIRST_RATING_YEARS, STAR_COUNTS, UNRATED_STATUSES
from services.scoring.criteria import versions
from services.scoring.demo import plan
from services.scoring.demo.loader import PROVINCE_COUNCIL
from shared import clock
from shared.db import asyncpg_dsn
from tests.conftest import repo_root
from tests.support.database import TestDatabase

# The demo is loaded once per run into a template (it takes a while); each test starts from a clone.
pytestmark = pytest.mark.template("demo")
DISTRICTS_CERTIFY = (versions.VERSIONS["1048+781"].in_force_from, versions.VERSIONS["148+1489"].in_force_from)
CERTIFICATES = (
    "SELECT c.*, r.average_total, r.parts, r.star AS result_star, r.level AS result_level, r.outcome,"
    " r.criteria_version AS result_version, r.decided_at, r.application_type AS result_type,"
    " a.application_type, a.status AS application_status, a.snapshot, a.snapshot_sha256, a.submitted_at,"
    " a.criteria_version AS pinned, a.sheet_id, o.cut_off, o.status AS round_status, o.level AS round_level,"
    " k.level AS council_level, k.name AS council_name"
    " FROM scoring.certificate c LEFT JOIN scoring.result r ON r.id = c.result_id"
    " LEFT JOIN scoring.application a ON a.id = c.application_id LEFT JOIN scoring.round o ON o.id = r.round_id"
    " LEFT JOIN scoring.council k ON k.id = r.council_id ORDER BY c.product_id, c.issued_on"
)


@pytest.fixture
async def scoring_db(database: TestDatabase) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the test's clone as the scoring service's role."""
    connection = await asyncpg.connect(asyncpg_dsn(database.urls["scoring"]))
    try:
        yield connection
    finally:
        await connection.close()


def _rows(records: list[asyncpg.Record]) -> set[tuple[Any, ...]]:
    return {tuple(record) for record in records}


async def test_the_registry_records_every_scoring_certificate_row_for_row(
    db: asyncpg.Connection, scoring_db: asyncpg.Connection
) -> None:
    """Number, authority, star, level, dates, status, decision and product: the same 804 rows on both sides."""
    scoring = await scoring_db.fetch(
        "SELECT number, issuing_authority, star, level, issued_on, expires_on, status, product_id, decision_number,"
        " criteria_version FROM scoring.certificate"
    )
    registry = await db.fetch(
        "SELECT certificate_number, issuing_authority, ocop_star, level, issued_on, expires_on, status, product_id,"
        " decision_number, criteria_version FROM registry.certificate"
    )
    assert len(scoring) == len(registry) == len(_rows(scoring)) == 804
    # The registry knows only the national criteria versions; the provincial programmes are its none.
    national = {(*row[:9], row[9] if row[9] in versions.VERSIONS else None) for row in scoring}
    assert _rows(registry) == national


async def test_each_products_certificate_fields_are_scorings_latest_certificate(
    db: asyncpg.Connection, scoring_db: asyncpg.Connection
) -> None:
    """What the catalogue shows (star, number, dates, level, authority, status) is scoring's newest certificate."""
    latest = await scoring_db.fetch(
        "SELECT DISTINCT ON (product_id) product_id, star, number, issued_on, expires_on, level, issuing_authority,"
        " status, decision_number FROM scoring.certificate ORDER BY product_id, issued_on DESC"
    )
    products = await db.fetch(
        "SELECT id, ocop_star, certificate_number, certificate_issued_on, certificate_expires_on, certificate_level,"
        " certificate_authority, certificate_status, certificate_decision_number, status, first_certified_on"
        " FROM registry.product WHERE certificate_number IS NOT NULL"
    )
    assert {tuple(row)[:9] for row in products} == _rows(latest)
    statuses = Counter(row["status"] for row in products)
    assert statuses == {"certified": sum(STAR_COUNTS.values()), "lapsed": UNRATED_STATUSES["lapsed"]}
    assert {(row["certificate_status"], row["status"]) for row in products} <= {
        ("active", "certified"), ("expiring", "certified"), ("expired", "lapsed")
    }  # fmt: skip
    first = await scoring_db.fetch("SELECT product_id, min(issued_on) FROM scoring.certificate GROUP BY 1")
    assert {(row["id"], row["first_certified_on"]) for row in products} == _rows(first)


async def test_the_published_figures_come_from_scorings_certificates(scoring_db: asyncpg.Connection) -> None:
    """In force today: 162 / 67 / 7, first rated 85 / 55 / 56 / 40 in 2017–2020; 25 lapsed (expired)."""
    rows = await scoring_db.fetch(CERTIFICATES)
    by_product: dict[Any, list[asyncpg.Record]] = defaultdict(list)
    for row in rows:
        by_product[row["product_id"]].append(row)
    current = [chain[-1] for chain in by_product.values() if chain[-1]["status"] in ("active", "expiring")]
    assert Counter(row["star"] for row in current) == Counter(STAR_COUNTS)
    in_force = [chain for chain in by_product.values() if chain[-1]["status"] in ("active", "expiring")]
    assert Counter(chain[0]["issued_on"].year for chain in in_force) == Counter(FIRST_RATING_YEARS)
    lapsed = [chain for chain in by_product.values() if chain[-1]["status"] == "expired"]
    assert len(lapsed) == UNRATED_STATUSES["lapsed"]
    assert all(len(chain) == 1 for chain in lapsed)


async def test_scorings_public_statistics_give_the_published_breakdown(
    scoring_client: httpx.AsyncClient,
) -> None:
    """GET /v1/certificates/stats counts the certificates in force: 162 / 67 / 7, Quảng Ninh's only."""
    by_star = await scoring_client.get("/v1/certificates/stats", params={"by": "star", "province_code": "22"})
    assert by_star.status_code == 200, by_star.text
    assert {item["key"]: item["count"] for item in by_star.json()["items"]} == {
        str(star): count for star, count in STAR_COUNTS.items()
    }
    by_level = await scoring_client.get("/v1/certificates/stats", params={"by": "level"})
    levels = {item["key"]: item["count"] for item in by_level.json()["items"]}
    assert levels["central"] == STAR_COUNTS[5]
    assert sum(levels.values()) == sum(STAR_COUNTS.values())


async def test_every_certificate_has_its_result_dossier_round_and_council(
    scoring_db: asyncpg.Connection,
) -> None:
    """Each certificate's result decided its star at its level, in its band under the rules of its day."""
    rows = await scoring_db.fetch(CERTIFICATES)
    for row in rows:
        version = versions.regime(row["criteria_version"])
        assert versions.regime_on(row["issued_on"]).code == version.code
        assert (row["result_star"], row["result_level"], row["result_version"], row["outcome"]) == (
            row["star"], row["level"], row["criteria_version"], "recognised"
        )  # fmt: skip
        assert (
            version.deciding_level(row["star"]) == row["level"] == row["round_level"] == row["council_level"]
        )
        average = row["average_total"]
        assert versions.star_for(version, average) == row["star"]
        parts = {part: Decimal(value) for part, value in json.loads(row["parts"]).items()}
        assert sum(parts.values()) == average
        assert all(Decimal(0) <= parts[part] <= maximum for part, maximum in version.part_maxima.items())
        assert row["decided_at"].astimezone(clock.VIETNAM).date() == row["issued_on"]
        assert row["submitted_at"].astimezone(clock.VIETNAM).date() <= row["cut_off"] < row["issued_on"]
        assert (row["round_status"], row["application_status"], row["pinned"]) == (
            "closed", "recognised", row["criteria_version"]
        )  # fmt: skip
        assert (row["sheet_id"] is None) == (row["criteria_version"] not in versions.VERSIONS)
        snapshot = json.loads(row["snapshot"])
        assert (snapshot["product"]["id"], snapshot["product"]["name"]) == (
            str(row["product_id"]),
            row["product_name"],
        )
        assert snapshot["entity"]["legal_name"] == row["entity_name"]
        assert row["result_type"] == row["application_type"]


async def test_chains_follow_the_rules_of_their_day(scoring_db: asyncpg.Connection) -> None:
    """New, then re-ratings (or an upgrade) each superseding the last; 36 months each; who issued what, when."""
    rows = await scoring_db.fetch(CERTIFICATES)
    by_product: dict[Any, list[asyncpg.Record]] = defaultdict(list)
    for row in rows:
        by_product[row["product_id"]].append(row)
    today = clock.today()
    for chain in by_product.values():
        assert [row["application_type"] for row in chain[:1]] == ["new"]
        for earlier, later in itertools.pairwise(chain):
            assert earlier["issued_on"] < later["issued_on"] <= earlier["expires_on"]
            assert (earlier["status"], earlier["superseded_by"]) == ("superseded", later["id"])
            assert later["application_type"] == (
                "upgrade" if later["star"] > earlier["star"] else "re_rating"
            )
        assert chain[-1]["status"] != "superseded"
        if chain[-1]["status"] in ("active", "expiring"):
            assert chain[-1]["issued_on"] <= today < chain[-1]["expires_on"]
    for row in rows:
        assert row["expires_on"] == clock.add_months(row["issued_on"], 36)
        district = row["star"] == 3 and DISTRICTS_CERTIFY[0] <= row["issued_on"] < DISTRICTS_CERTIFY[1]
        expected = "central" if row["star"] == 5 else "district" if district else "province"
        assert row["level"] == expected
        if expected == "central":
            assert row["issuing_authority"] == plan.issuing_authority("central", "", row["issued_on"])
            assert row["number"].startswith(f"OCOP-TW-{row['issued_on'].year}-")
        else:
            assert row["issuing_authority"].startswith(
                "Ủy ban nhân dân tỉnh" if expected == "province" else "Ủy ban nhân dân "
            )
            assert row["number"].startswith(f"OCOP-22-{row['issued_on'].year}-")
    assert len({(row["issuing_authority"], row["number"]) for row in rows}) == len(rows)
    tea = next(row for row in rows if row["product_name"] == "Trà hoa vàng Ba Chẽ" and row["star"] == 5)
    assert (tea["decision_number"], tea["issued_on"]) == ("377/QĐ-BNN-VPĐP", date(2025, 1, 17))
    invented = [row["decision_number"] for row in rows if row["decision_number"] != "377/QĐ-BNN-VPĐP"]
    assert all(number.startswith("DEMO-") for number in invented)


async def test_councils_and_rounds(scoring_db: asyncpg.Connection) -> None:
    """The province's council of 7 and the central one, active; former districts' councils, inactive; rounds
    per half-year at each level's cut-offs, closed, each deciding something."""
    councils = await scoring_db.fetch(
        "SELECT k.id, k.name, k.level, k.province_code, k.active, array_agg(m.role ORDER BY m.role) AS roles,"
        " count(DISTINCT m.sub) AS subjects FROM scoring.council k JOIN scoring.council_member m"
        " ON m.council_id = k.id GROUP BY k.id"
    )
    by_level = Counter(row["level"] for row in councils)
    assert by_level["province"] == by_level["central"] == 1
    assert by_level["district"] >= 10
    province = next(row for row in councils if row["level"] == "province")
    assert (province["name"], province["province_code"], province["active"]) == (PROVINCE_COUNCIL, "22", True)
    assert Counter(province["roles"]) == {"chair": 1, "member": 5, "secretary": 1}
    assert all(row["subjects"] == len(row["roles"]) for row in councils)
    assert all(row["active"] == (row["level"] != "district") for row in councils)
    rounds = await scoring_db.fetch(
        "SELECT o.level, o.cut_off, o.status, o.closed_at, count(a.id) AS dossiers FROM scoring.round o"
        " LEFT JOIN scoring.application a ON a.round_id = o.id GROUP BY o.id"
    )
    cut_offs = {
        "province": {(6, 30), (12, 30)},
        "district": {(6, 30), (12, 30)},
        "central": {(3, 30), (9, 30)},
    }
    for row in rounds:
        assert (row["cut_off"].month, row["cut_off"].day) in cut_offs[row["level"]]
        assert row["status"] == "closed"
        assert row["closed_at"].astimezone(clock.VIETNAM).date() > row["cut_off"]
        assert row["dossiers"] > 0
    members = await scoring_db.fetchval("SELECT count(*) FROM scoring.council_member")
    assert members == sum(len(row["roles"]) for row in councils)


async def test_the_history_is_audited_as_the_demo(scoring_db: asyncpg.Connection) -> None:
    """Every council, round, dossier, result and certificate was written by scoring:demo, and audited."""
    actions = Counter(
        (row["action"], row["actor_sub"])
        for row in await scoring_db.fetch("SELECT action, actor_sub FROM scoring.audit_entry")
    )
    counts = await scoring_db.fetchrow(
        "SELECT (SELECT count(*) FROM scoring.result) AS results, (SELECT count(*) FROM scoring.application) AS"
        " dossiers, (SELECT count(*) FROM scoring.certificate) AS certificates, (SELECT count(*) FROM"
        " scoring.round) AS rounds, (SELECT count(*) FROM scoring.certificate WHERE status = 'superseded') AS"
        " superseded"
    )
    assert actions[("result.recorded", "scoring:demo")] == counts["results"] == counts["dossiers"] == 804
    assert actions[("application.recorded", "scoring:demo")] == 804
    assert actions[("certificate.issued", "scoring:demo")] == counts["certificates"]
    assert actions[("certificate.superseded", "scoring:demo")] == counts["superseded"]
    assert actions[("round.recorded", "scoring:demo")] == counts["rounds"]
    assert {actor for _, actor in actions} == {"scoring:demo", "scoring:scheduler"}


async def test_seeding_again_changes_nothing(
    database: TestDatabase, db: asyncpg.Connection, scoring_db: asyncpg.Connection, tmp_path: Path
) -> None:
    """A second `ocop seed --demo` (the registry's seed, then scoring's over HTTP from a registry the command
    starts for the while) writes nothing on either side."""
    digest = (
        "SELECT (SELECT count(*) FROM {s}.{t}) AS rows, (SELECT md5(string_agg(x::text, ',' ORDER BY x::text))"
        " FROM {s}.{t} x) AS digest"
    )
    scoring_tables = (
        "certificate",
        "result",
        "application",
        "council",
        "council_member",
        "round",
        "audit_entry",
    )
    registry_tables = ("certificate", "product", "product_change", "entity")

    async def snapshot() -> list[Any]:
        return [
            *[tuple(await scoring_db.fetchrow(digest.format(s="scoring", t=t))) for t in scoring_tables],
            *[tuple(await db.fetchrow(digest.format(s="registry", t=t))) for t in registry_tables],
        ]

    before = await snapshot()
    # The command's own set-up: the clone's administrator URL, its roles' passwords, development keys.
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.endswith(("JWT_PUBLIC_KEYS", "_ENVIRONMENT"))
    }
    environment |= {
        "OCOP_DATABASE_URL": database.admin_url, "OCOP_STATE_DIR": str(tmp_path), "PYTHONPATH": str(repo_root()),
        **{f"OCOP_{name.upper()}_DB_PASSWORD": str(make_url(url).password) for name, url in database.urls.items()},
    }  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "seed", "--demo",
        env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), timeout=300)
    assert process.returncode == 0, output.decode()
    assert "the demo data set was already there" in output.decode()
    assert "scoring's demo history was already there" in output.decode()
    assert await snapshot() == before
