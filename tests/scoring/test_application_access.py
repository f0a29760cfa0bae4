"""Who may read and act on a dossier, route by route: anonymous, each role, another producer, another
commune, another province, another council. Reading what one may not see is a 404; seeing but not
being allowed to act a 403; no token a 401."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from tests import builders
from tests.builders import ADMIN, Dossier
from tests.conftest import auth

PDF = b"%PDF-1.4\n%%EOF\n"


@dataclass(frozen=True)
class Staged:
    """A dossier brought to some state, with the council scoring it (once assigned)."""

    dossier: Dossier
    council: builders.Council


async def staged(
    registry: httpx.AsyncClient, scoring: httpx.AsyncClient, db: asyncpg.Connection, state: str
) -> Staged:
    """A fresh, self-assessed dossier in ``state``: draft, submitted, forwarded, eligible, in_round, scoring,
    potential_5_star (scored 100 by its province's council) or submitted_central (then proposed)."""
    made = await builders.dossier(registry, scoring, db)
    owner = made.owner
    council = await builders.council(scoring, province_code=owner.unit.province_code)
    steps: list[tuple[str, dict[str, str], Any]] = [
        ("submit", owner.headers, None),
        ("precheck", owner.commune_officer, {"decision": "forward"}),
        ("completeness", owner.province_officer, {"decision": "eligible"}),
        ("assign", council.manager, lambda: {"round_id": round_id}),
        ("start-scoring", council.manager, None),
    ]
    order = ["draft", "submitted", "forwarded", "eligible", "in_round", "scoring"]
    round_id = (await builders.scoring_round(scoring, council))["id"]
    await builders.self_assessed(scoring, made)
    for action, headers, body in steps[: order.index(state) if state in order else len(steps)]:
        await builders.step(scoring, made, action, headers, body() if callable(body) else body)
    if state in ("potential_5_star", "submitted_central"):
        tree = await builders.sheet(scoring, made.application["sheet_id"])
        scored = await builders.score_all(scoring, builders.Scoring(made, council, {"id": round_id}, tree))
        assert scored["status"] == "potential_5_star"
    if state == "submitted_central":
        await builders.step(scoring, made, "propose-central", owner.province_officer)
    return Staged(made, council)


# Each caller, built from the staged dossier.
CALLERS: dict[str, Callable[[Staged], dict[str, str]]] = {
    "anonymous": lambda _: {},
    "admin": lambda _: ADMIN,
    "producer": lambda s: s.dossier.owner.headers,
    "another producer": lambda _: auth("producer", str(uuid.uuid4()), sub="chu-the"),
    "commune officer": lambda s: s.dossier.owner.commune_officer,
    "another commune's officer": lambda s: auth(
        "commune_officer", f"{s.dossier.owner.unit.province_code}999"
    ),
    "province officer": lambda s: s.dossier.owner.province_officer,
    "another province's officer": lambda _: builders.province_officer("25"),
    "council member": lambda s: s.council.member(s.council.scorers[1]),
    "another council's member": lambda s: auth("council_member", str(uuid.uuid4()), sub=s.council.scorers[1]),
    "national": lambda _: auth("national", "client-1"),
    "partner": lambda _: auth("partner", "client-1"),
    "service": lambda _: auth("service", "stamps"),
}
STRANGERS = {
    "another producer": 404, "another commune's officer": 404, "another province's officer": 404,
    "another council's member": 404, "national": 404, "partner": 404, "anonymous": 401,
}  # fmt: skip
# Reading a dossier before it is assigned (its council's members do not see it yet) and after.
READS = STRANGERS | dict.fromkeys(
    ["admin", "producer", "commune officer", "province officer", "service"], 200
)
READS_UNASSIGNED = READS | {"council member": 404}
READS_ASSIGNED = READS | {"council member": 200}


def acts(*allowed: str, ok: int = 200, council_sees: bool = False) -> dict[str, int]:
    """Expected statuses of a step: ``allowed`` succeed, other readers 403, strangers 404 (401 anonymous)."""
    readers = [
        caller
        for caller, status in (READS_ASSIGNED if council_sees else READS_UNASSIGNED).items()
        if status == 200
    ]
    expected = STRANGERS | {"council member": 404} | dict.fromkeys(readers, 403)
    return expected | dict.fromkeys(allowed, ok)


PREPARERS = ("admin", "producer", "commune officer", "province officer")
# (the state the dossier is brought to, method, path under the dossier, body, expected per caller)
ROUTES: dict[str, tuple[str, str, str, Any, dict[str, int]]] = {
    "read": ("draft", "GET", "", None, READS_UNASSIGNED),
    "read assigned": ("in_round", "GET", "", None, READS_ASSIGNED),
    "snapshot": ("submitted", "GET", "/snapshot", None, READS_UNASSIGNED),
    "attachments": ("draft", "GET", "/attachments", None, READS_UNASSIGNED),
    "submit": ("draft", "POST", "/submit", None, acts(*PREPARERS)),
    "precheck": (
        "submitted",
        "POST",
        "/precheck",
        {"decision": "forward"},
        acts("admin", "commune officer", "province officer"),
    ),
    "completeness": (
        "forwarded",
        "POST",
        "/completeness",
        {"decision": "eligible"},
        acts("admin", "province officer"),
    ),
    "assign": ("eligible", "POST", "/assign", "round", acts("admin", "province officer")),
    "start scoring": (
        "in_round",
        "POST",
        "/start-scoring",
        None,
        acts("admin", "province officer", council_sees=True),
    ),
    "attach": ("draft", "POST", "/attachments", "file", acts(*PREPARERS, ok=201)),
    "self-assess": ("draft", "PUT", "/self-assessment", "choices", acts(*PREPARERS)),
    "read self-assessment": ("draft", "GET", "/self-assessment", None, READS_UNASSIGNED),
    "results": ("draft", "GET", "/results", None, READS_UNASSIGNED | {"national": 200}),
    "read cards": (
        "scoring",
        "GET",
        "/scorecards",
        None,
        acts("admin", "service", "province officer", "council member", council_sees=True),
    ),
    # Allowed callers get past the access rules to the quorum (three scorers, no card yet): 409.
    "close scoring": (
        "scoring",
        "POST",
        "/close-scoring",
        None,
        acts("admin", "province officer", ok=409, council_sees=True),
    ),
    "propose central": (
        "potential_5_star",
        "POST",
        "/propose-central",
        None,
        acts("admin", "province officer", council_sees=True),
    ),
    "assign central": (
        "submitted_central",
        "POST",
        "/assign-central",
        "central round",
        acts("admin", council_sees=True),
    ),
}


@pytest.mark.parametrize("caller", list(CALLERS))
@pytest.mark.parametrize("route", list(ROUTES))
async def test_who_may_use_each_route(
    registry_client: httpx.AsyncClient,
    scoring_client: httpx.AsyncClient,
    db: asyncpg.Connection,
    route: str,
    caller: str,
) -> None:
    """Each route, each caller, on a dossier in the state the route needs."""
    state, method, path, body, expected = ROUTES[route]
    stage = await staged(registry_client, scoring_client, db, state)
    headers = CALLERS[caller](stage)
    url = f"{stage.dossier.url}{path}"
    if body == "file":
        answer = await scoring_client.post(
            url, data={"kind": "label"}, files={"file": ("nhan.pdf", PDF, "application/pdf")}, headers=headers
        )
    elif body == "round":
        round_ = await builders.scoring_round(scoring_client, stage.council)
        answer = await scoring_client.post(url, json={"round_id": round_["id"]}, headers=headers)
    elif body == "central round":
        central = await builders.council(scoring_client, province_code=None)
        round_ = await builders.scoring_round(scoring_client, central)
        answer = await scoring_client.post(url, json={"round_id": round_["id"]}, headers=headers)
    elif body == "choices":
        tree = await builders.sheet(scoring_client, stage.dossier.application["sheet_id"])
        answer = await scoring_client.put(url, json={"choices": builders.choices_for(tree)}, headers=headers)
    else:
        answer = await scoring_client.request(method, url, json=body, headers=headers)
    assert answer.status_code == expected[caller], answer.text
    if answer.status_code >= 400:
        assert answer.headers["content-type"] == "application/problem+json"


async def test_an_attachments_bytes_follow_the_dossiers_readers(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """The bytes are served to whoever reads the dossier and to nobody else."""
    stage = await staged(registry_client, scoring_client, db, "draft")
    made = stage.dossier
    files = {"file": ("nhan.pdf", PDF, "application/pdf")}
    attached = (
        await scoring_client.post(
            f"{made.url}/attachments", data={"kind": "label"}, files=files, headers=made.owner.headers
        )
    ).json()
    for caller, build in CALLERS.items():
        answer = await scoring_client.get(attached["url"], headers=build(stage))
        assert answer.status_code == READS_UNASSIGNED[caller], (caller, answer.text)


async def test_listings_show_each_caller_their_own_dossiers(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Producer, commune, province, council: each lists exactly the dossiers in its reach."""
    assigned = await staged(registry_client, scoring_client, db, "in_round")
    other = await staged(registry_client, scoring_client, db, "draft")
    mine, theirs = assigned.dossier.id, other.dossier.id

    async def listed(headers: dict[str, str]) -> set[str]:
        answer = await scoring_client.get("/v1/applications", headers=headers)
        assert answer.status_code == 200, answer.text
        return {item["id"] for item in answer.json()["items"]} & {mine, theirs}

    for caller, build in CALLERS.items():
        if caller == "anonymous":
            assert (await scoring_client.get("/v1/applications")).status_code == 401
            continue
        expected = {mine} if READS_ASSIGNED[caller] == 200 else set()
        if caller in ("admin", "service"):
            expected = {mine, theirs}
        assert await listed(build(assigned)) == expected, caller
    assert await listed(auth("producer", "not-a-uuid")) == set()
    assert await listed(auth("council_member", None)) == set()
    by_status = await scoring_client.get("/v1/applications", params={"status": "draft"}, headers=ADMIN)
    assert theirs in {item["id"] for item in by_status.json()["items"]}
    assert mine not in {item["id"] for item in by_status.json()["items"]}
