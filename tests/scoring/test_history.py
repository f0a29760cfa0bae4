"""History (the demo loader's path): decisions taken before the platform, recorded with the live invariants.

District councils (3★ under 781 and 148) and the provincial programmes before 1048 exist only as
history: recorded, read like any other, never set up or given rounds through the API.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.applications import service as applications
from services.scoring.certificates import events as certificate_events
from services.scoring.certificates import service as certificates
from services.scoring.commands.seed import seed
from services.scoring.councils import service as councils
from services.scoring.councils.schemas import MemberCreate
from services.scoring.criteria import versions
from services.scoring.demo.loader import DemoNotRegistered
from services.scoring.registry import RegistryClient
from shared import clock
from shared.db import asyncpg_dsn
from shared.errors import ProblemError
from shared.security.principal import Principal, Role
from shared.security.service_tokens import ServiceIdentity
from tests.builders import ADMIN
from tests.conftest import JWT_AUDIENCE, _signer, in_process_events, registry_app
from tests.support.database import TestDatabase

DEMO = Principal(sub="scoring:demo", role=Role.admin)
ENTITY_ID = uuid.uuid4()


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=clock.VIETNAM)


def records(product_id: uuid.UUID | None = None) -> dict[str, Any]:
    """A registry product and its entity as the registry's API returns them (what a dossier snapshots)."""
    product = {
        "id": str(product_id or uuid.uuid4()), "entity_id": str(ENTITY_ID), "name": "Chả mực thử",
        "commune_code": "06862", "province_code": "22", "product_set": 8, "classification": "148",
    }  # fmt: skip
    return {"product": product, "entity": {"id": str(ENTITY_ID), "legal_name": "Hợp tác xã Thử"}}


async def district_round(session: AsyncSession, cut_off: date = date(2023, 6, 30)) -> uuid.UUID:
    council = await councils.record_historical_council(
        session, actor=DEMO, name="Hội đồng OCOP huyện Thử", level="district", province_code="22",
        members=[MemberCreate(sub="h-chair", full_name="Lê Văn Một", role="chair"),
                 MemberCreate(sub="h-member", full_name="Trần Thị Hai", role="member"),
                 MemberCreate(sub="h-secretary", full_name="Ngô Văn Ba", role="secretary")],
        active=False,
    )  # fmt: skip
    round_ = await councils.record_historical_round(
        session, actor=DEMO, council_id=council.id, name="Đợt 1 năm 2023", cut_off=cut_off,
        closed_at=at(date(2023, 8, 20)),
    )  # fmt: skip
    return round_.id


def decision(round_id: uuid.UUID, **overrides: Any) -> dict[str, Any]:
    """A district's 3★ under 148, decided 20/8/2023 on a dossier handed in by the 30/6 cut-off."""
    return {
        **records(), "application_type": "new", "round_id": round_id, "criteria_version": "148",
        "submitted_at": at(date(2023, 6, 12)), "decided_at": at(date(2023, 8, 20)), "star": 3,
        "average_total": Decimal("61.50"), "parts": {"A": Decimal("24.60"), "B": Decimal("15.38"),
                                                     "C": Decimal("21.52")},
        "spread": Decimal("4.25"), **overrides,
    }  # fmt: skip


async def test_a_historical_decision_is_a_decided_dossier_and_an_immutable_result(
    session: AsyncSession,
) -> None:
    """The dossier holds the sealed snapshot and the pin; the result its figures; both audited as the actor."""
    round_id = await district_round(session)
    result = await applications.record_historical_result(session, actor=DEMO, **decision(round_id))
    application = await applications.get_snapshot(
        session, principal=DEMO, application_id=result.application_id
    )
    assert (application.status, application.level, application.criteria_version) == (
        "recognised",
        "district",
        "148",
    )
    assert application.sheet_id is not None
    assert application.snapshot is not None
    assert application.snapshot["entity"]["legal_name"] == "Hợp tác xã Thử"
    assert (result.star, result.band_star, result.outcome, result.level) == (3, 3, "recognised", "district")
    assert (result.members_scored, result.members_expected, result.decided_by) == (2, 2, "scoring:demo")
    assert await applications.decided_result(session, application_id=application.id) == result


async def test_the_provincial_programmes_before_1048_are_history_with_no_sheet(session: AsyncSession) -> None:
    """A 2017 provincial 4★: pinned to the provincial programmes (no national sheet), announced with no version."""
    assert versions.regime_on(date(2019, 8, 20)) is versions.PROVINCIAL
    assert versions.regime_on(date(2019, 8, 21)).code == "1048"
    council = await councils.record_historical_council(
        session, actor=DEMO, name="Hội đồng OCOP tỉnh Thử (2017)", level="province", province_code="22",
        members=[MemberCreate(sub="p-chair", full_name="Lê Văn Một", role="chair")], active=False,
    )  # fmt: skip
    round_ = await councils.record_historical_round(
        session, actor=DEMO, council_id=council.id, name="Đợt 1 năm 2017", cut_off=date(2017, 6, 30),
        closed_at=at(date(2017, 9, 1)),
    )  # fmt: skip
    result = await applications.record_historical_result(
        session, actor=DEMO, **decision(
            round_.id, criteria_version="provincial", submitted_at=at(date(2017, 6, 1)),
            decided_at=at(date(2017, 9, 1)), star=4, average_total=Decimal("75.00"),
            parts={"A": Decimal("26.25"), "B": Decimal("18.75"), "C": Decimal("30.00")},
        ),
    )  # fmt: skip
    application = await applications.get_application(
        session, principal=DEMO, application_id=result.application_id
    )
    assert (application.criteria_version, application.sheet_id) == ("provincial", None)
    facts = certificates.IssueFacts(
        product_id=result.product_id, entity_id=result.entity_id, province_code="22", commune_code="06862",
        product_set=8, product_name="Chả mực thử", entity_name="Hợp tác xã Thử", star=4, level="province",
        criteria_version="provincial", application_id=application.id, result_id=result.id,
    )  # fmt: skip
    certificate = await certificates.record_issue(
        session, actor=DEMO, facts=facts, decision_number="DEMO-001/QĐ-UBND",
        issuing_authority="Ủy ban nhân dân tỉnh Thử", issued_on=date(2017, 9, 1), status_on=date(2017, 9, 1),
    )  # fmt: skip
    assert (certificate.status, certificate.expires_on) == ("active", date(2020, 9, 1))
    # The registry knows only the national versions: the provincial programmes are its none.
    assert certificate_events.certificate_data(certificate)["criteria_version"] is None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"star": 4, "average_total": Decimal("75.00"),
          "parts": {"A": Decimal("30"), "B": Decimal("18.75"), "C": Decimal("26.25")}}, "star"),
        ({"criteria_version": "148+1489", "decided_at": at(date(2025, 8, 20))}, "star"),
        ({"average_total": Decimal("71.50"), "parts": {"A": Decimal("34.60"), "B": Decimal("15.38"),
                                                       "C": Decimal("21.52")}}, "average_total"),
        ({"parts": {"A": Decimal("24.60"), "B": Decimal("15.38"), "C": Decimal("21.50")}}, "parts"),
        ({"parts": {"A": Decimal("41.00"), "B": Decimal("0.00"), "C": Decimal("20.50")}}, "parts"),
        ({"submitted_at": at(date(2023, 7, 2))}, "decided_at"),
        ({"decided_at": at(date(2023, 6, 30))}, "decided_at"),
        ({"cut_off": date(2022, 12, 30), "submitted_at": at(date(2022, 12, 1)), "decided_at": at(date(2023, 1, 10))},
         "decided_at"),
        ({"spread": Decimal("12.00")}, "spread"),
        ({"criteria_version": "2099"}, "criteria_version"),
        ({"application_type": "renewal"}, "application_type"),
        ({"entity": {"id": str(uuid.uuid4()), "legal_name": "Khác"}}, "entity"),
    ],
)  # fmt: skip
async def test_a_historical_decision_breaking_a_rule_is_refused(
    session: AsyncSession, overrides: dict[str, Any], field: str
) -> None:
    """A province's 3★ under 148, a 4★ from a district, an average out of its band, parts that do not add up
    or exceed a maximum, a dossier after the cut-off, a decision before it or before its rules, a spread too
    wide, an unknown version or type, another entity: each is refused naming the field (148 came into force on
    24/2/2023: a decision of 10/1/2023 cannot have applied it)."""
    round_id = await district_round(session, overrides.pop("cut_off", date(2023, 6, 30)))
    with pytest.raises(ProblemError) as refused:
        await applications.record_historical_result(session, actor=DEMO, **decision(round_id, **overrides))
    assert refused.value.extensions["errors"][0]["field"] == field


async def test_district_councils_are_read_but_never_set_up_or_given_rounds(
    session: AsyncSession, scoring_client: httpx.AsyncClient
) -> None:
    """They list and read as level "district"; creating one, or a round of one, is a 422."""
    round_id = await district_round(session)
    await session.flush()
    listed = await scoring_client.get("/v1/councils", params={"level": "district"}, headers=ADMIN)
    assert listed.status_code == 200, listed.text
    [council] = listed.json()["items"]
    assert (council["level"], council["province_code"], council["active"]) == ("district", "22", False)
    round_ = await scoring_client.get(f"/v1/rounds/{round_id}", headers=ADMIN)
    assert (round_.status_code, round_.json()["level"], round_.json()["status"]) == (
        200,
        "district",
        "closed",
    )
    created = await scoring_client.post(
        "/v1/councils",
        json={"name": "Hội đồng huyện mới", "level": "district", "province_code": "22"},
        headers=ADMIN,
    )
    assert created.status_code == 422, created.text
    await scoring_client.patch(f"/v1/councils/{council['id']}", json={"active": True}, headers=ADMIN)
    opened = await scoring_client.post(
        "/v1/rounds",
        json={"council_id": council["id"], "name": "Đợt mới", "cut_off": "2026-12-30"},
        headers=ADMIN,
    )
    assert opened.status_code == 422, opened.text
    assert opened.json()["errors"][0]["field"] == "body.council_id"


@pytest.mark.commits
async def test_the_demo_history_needs_the_registrys_demo_and_writes_nothing_without_it(
    database: TestDatabase,
) -> None:
    """Scoring's demo seed on a registry without its demo is refused, naming the registry's seed; nothing written."""
    registry = registry_app(database)
    async with registry.router.lifespan_context(registry):
        client = RegistryClient(
            "http://registry", ServiceIdentity(_signer(), name="scoring", audience=JWT_AUDIENCE),
            timeout_s=60.0, transport=httpx.ASGITransport(app=registry),
        )  # fmt: skip
        with pytest.raises(DemoNotRegistered, match=r"services\.registry\.commands\.seed --demo"):
            await seed(database.urls["scoring"], client, events=in_process_events("scoring"))
    connection = await asyncpg.connect(asyncpg_dsn(database.urls["scoring"]))
    try:
        counts = await connection.fetchrow(
            "SELECT (SELECT count(*) FROM scoring.council) AS councils, (SELECT count(*) FROM scoring.certificate)"
            " AS certificates, (SELECT count(*) FROM scoring.audit_entry) AS audit,"
            " (SELECT count(*) FROM scoring.outbox_event) AS events"
        )
    finally:
        await connection.close()
    assert tuple(counts) == (0, 0, 0, 0)
