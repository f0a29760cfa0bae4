"""Every route of the scoring service has an authorization test, and the routes whose tests elsewhere
left callers out are tested here for every caller: anonymous, each role, another producer, another
commune, another province, another council.

``AUTHORIZATION_TESTS`` is the table: each (method, path) of scoring's OpenAPI document and the tests
that call it as those callers. A route added without a line here fails
``test_every_route_has_an_authorization_test``; a line naming a test that does not exist fails too.
"""

from __future__ import annotations

import importlib
import inspect
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest

from tests import builders
from tests.builders import ADMIN
from tests.conftest import auth

APPLICATION = "/v1/applications/{application_id}"
ACCESS = "test_application_access"
# (method, path) → the tests ("module::function" under tests/scoring) that check who may call it.
AUTHORIZATION_TESTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", "/healthz"): ("test_route_authorization::test_public_routes_answer_every_caller",),
    ("GET", "/readyz"): ("test_route_authorization::test_public_routes_answer_every_caller",),
    ("GET", "/v1/criteria-versions"): ("test_criteria_access::test_criteria_reads_are_public",),
    ("GET", "/v1/criteria-versions/{slug}"): ("test_criteria_access::test_criteria_reads_are_public",),
    ("GET", "/v1/product-sets"): ("test_criteria_access::test_criteria_reads_are_public",),
    ("GET", "/v1/score-sheets"): (
        "test_criteria_access::test_criteria_reads_are_public",
        "test_criteria_access::test_a_draft_is_seen_by_its_province_and_admins_only",
    ),
    ("POST", "/v1/score-sheets"): ("test_criteria_access::test_only_admins_and_province_officers_import",),
    ("POST", "/v1/score-sheets/import"): (
        "test_criteria_access::test_only_admins_and_province_officers_import",
    ),
    ("GET", "/v1/score-sheets/{sheet_id}"): (
        "test_criteria_access::test_criteria_reads_are_public",
        "test_criteria_access::test_a_draft_is_seen_by_its_province_and_admins_only",
    ),
    ("POST", "/v1/score-sheets/{sheet_id}/publish"): (
        "test_criteria_access::test_who_publishes_a_provincial_draft",
        "test_criteria_access::test_a_national_draft_is_the_admins_own",
    ),
    ("POST", "/v1/councils"): ("test_councils::test_who_sets_up_councils",),
    ("GET", "/v1/councils"): ("test_councils::test_listings_show_each_caller_their_own",),
    ("GET", "/v1/councils/{council_id}"): (
        "test_councils::test_who_reads_a_province_council",
        "test_councils::test_who_reads_the_central_council",
    ),
    ("PATCH", "/v1/councils/{council_id}"): (
        "test_councils::test_who_manages_a_province_council",
        "test_councils::test_who_reads_the_central_council",
    ),
    ("POST", "/v1/councils/{council_id}/members"): ("test_councils::test_who_manages_a_province_council",),
    ("GET", "/v1/councils/{council_id}/members"): ("test_councils::test_who_reads_a_province_council",),
    ("POST", "/v1/rounds"): ("test_councils::test_who_opens_reads_and_closes_rounds",),
    ("GET", "/v1/rounds"): ("test_councils::test_listings_show_each_caller_their_own",),
    ("GET", "/v1/rounds/{round_id}"): ("test_councils::test_who_opens_reads_and_closes_rounds",),
    ("POST", "/v1/rounds/{round_id}/close"): ("test_councils::test_who_opens_reads_and_closes_rounds",),
    ("POST", "/v1/applications"): (
        "test_applications::test_a_producer_opens_a_draft_for_its_own_product",
        "test_applications::test_officers_of_the_unit_and_admins_open_dossiers_too",
        "test_applications::test_a_product_one_may_not_apply_for_is_not_found",
        "test_applications::test_roles_that_never_open_dossiers",
    ),
    ("GET", "/v1/applications"): (f"{ACCESS}::test_listings_show_each_caller_their_own_dossiers",),
    **{
        (method, f"{APPLICATION}{path}"): (f"{ACCESS}::test_who_may_use_each_route",)
        for method, path in [
            ("GET", ""),
            ("GET", "/snapshot"),
            ("POST", "/submit"),
            ("POST", "/precheck"),
            ("POST", "/completeness"),
            ("POST", "/assign"),
            ("POST", "/start-scoring"),
            ("POST", "/propose-central"),
            ("POST", "/assign-central"),
            ("POST", "/close-scoring"),
            ("PUT", "/self-assessment"),
            ("GET", "/self-assessment"),
            ("GET", "/scorecards"),
            ("GET", "/results"),
            ("POST", "/attachments"),
            ("GET", "/attachments"),
        ]
    },
    ("POST", f"{APPLICATION}/scorecards"): ("test_scorecards::test_only_the_councils_scorers_submit_cards",),
    ("GET", f"{APPLICATION}/attachments/{{sha256}}"): (
        f"{ACCESS}::test_an_attachments_bytes_follow_the_dossiers_readers",
    ),
    ("GET", "/v1/results/stats"): ("test_stats::test_who_reads_the_results_statistics",),
    ("GET", "/v1/certificates/stats"): (
        "test_stats::test_certificate_statistics_are_public_and_bad_parameters_are_named",
        "test_route_authorization::test_public_routes_answer_every_caller",
    ),
    ("POST", "/v1/certificates"): (
        "test_certificates::test_a_recognised_result_is_certified_once_by_its_province",
        "test_route_authorization::test_who_issues_reads_and_revokes_a_certificate",
    ),
    ("GET", "/v1/certificates"): (
        "test_certificates::test_reads_follow_the_roles",
        "test_route_authorization::test_who_issues_reads_and_revokes_a_certificate",
    ),
    ("GET", "/v1/certificates/lookup"): (
        "test_certificates::test_anyone_checks_a_certificate_by_its_number",
        "test_route_authorization::test_public_routes_answer_every_caller",
    ),
    ("GET", "/v1/certificates/{certificate_id}"): (
        "test_certificates::test_reads_follow_the_roles",
        "test_route_authorization::test_who_issues_reads_and_revokes_a_certificate",
    ),
    ("POST", "/v1/certificates/{certificate_id}/revoke"): (
        "test_certificates::test_revocation_is_for_the_competent_authority",
        "test_route_authorization::test_who_issues_reads_and_revokes_a_certificate",
    ),
    ("GET", "/v1/audit/{subject_id}"): (
        "test_audit::test_who_reads_the_audit_trail",
        "test_route_authorization::test_who_reads_a_records_audit_trail",
    ),
    ("GET", "/v1/outbox/scoring/deliveries"): ("test_outbox_admin::test_who_reads_and_replays_the_outbox",),
    ("POST", "/v1/outbox/scoring/deliveries/replay"): (
        "test_outbox_admin::test_who_reads_and_replays_the_outbox",
    ),
}
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


async def test_every_route_has_an_authorization_test(scoring_client: httpx.AsyncClient) -> None:
    """The routes of scoring's document and the table's lines are the same set."""
    document = (await scoring_client.get("/openapi.json")).json()
    routes = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    assert sorted(routes - AUTHORIZATION_TESTS.keys()) == [], "routes without an authorization test"
    assert sorted(AUTHORIZATION_TESTS.keys() - routes) == [], "lines for routes that no longer exist"


@pytest.mark.parametrize("route", sorted(AUTHORIZATION_TESTS), ids=lambda route: " ".join(route))
def test_the_table_names_tests_that_exist_and_call_the_route(route: tuple[str, str]) -> None:
    """Each named test is a test function of its module, and the module names the route's last segment."""
    segment = next(part for part in reversed(route[1].split("/")) if part and not part.startswith("{"))
    for reference in AUTHORIZATION_TESTS[route]:
        module_name, _, function_name = reference.partition("::")
        module = importlib.import_module(f"tests.scoring.{module_name}")
        function = getattr(module, function_name, None)
        assert function_name.startswith("test_"), reference
        assert inspect.iscoroutinefunction(function), reference
        assert segment in inspect.getsource(module), (reference, segment)
    if f"{ACCESS}::test_who_may_use_each_route" in AUTHORIZATION_TESTS[route]:
        # That test runs each line of its ROUTES table for every caller: the route must be one of them.
        table = importlib.import_module(f"tests.scoring.{ACCESS}").ROUTES
        method, path = route
        assert (method, path.removeprefix(APPLICATION)) in {(line[1], line[2]) for line in table.values()}


# Every caller, built from a dossier scored by its province's council (its producer, unit, council).
CALLERS: dict[str, Callable[[builders.Scoring], dict[str, str]]] = {
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
STRANGERS = dict.fromkeys(
    ["another producer", "another commune's officer", "another province's officer", "another council's member",
     "partner"], 404,
) | {"anonymous": 401}  # fmt: skip
# (issue, read, listed, revoke) per caller. The scoring council's members see the dossier (403 on issue)
# but not its certificate (a certificate is read as a result is: the dossier's unit and the national system).
CERTIFICATE_ACCESS: dict[str, tuple[int, int, bool, int]] = {
    **{caller: (status, status, False, status) for caller, status in STRANGERS.items()},
    "admin": (201, 200, True, 200),
    "producer": (403, 200, True, 403),
    "commune officer": (403, 200, True, 403),
    "province officer": (201, 200, True, 200),
    "council member": (403, 404, False, 404),
    "national": (404, 200, True, 403),
    "service": (403, 200, True, 403),
}


async def _scored(
    registry: httpx.AsyncClient, scoring: httpx.AsyncClient, db: asyncpg.Connection
) -> builders.Scoring:
    made = await builders.dossier(registry, scoring, db)
    await builders.eligible(scoring, made)
    staged = await builders.in_scoring(scoring, made)
    assert (await builders.score_all(scoring, staged, (76, 77, 78)))["status"] == "recognised"
    return staged


@pytest.mark.parametrize("caller", list(CALLERS))
async def test_who_issues_reads_and_revokes_a_certificate(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection, caller: str
) -> None:
    """The province's officers and admins issue and revoke; the dossier's readers and the national system
    read; everyone else hears 404 (anonymous 401), whoever sees but may not act 403."""
    staged = await _scored(registry_client, scoring_client, db)
    headers = CALLERS[caller](staged)
    issue, read, listed, revoke = CERTIFICATE_ACCESS[caller]
    body = {
        "application_id": staged.dossier.id,
        "decision_number": "7/QĐ-UBND",
        "issuing_authority": "UBND tỉnh",
    }
    answer = await scoring_client.post("/v1/certificates", json=body, headers=headers)
    assert answer.status_code == issue, answer.text
    if issue != 201:
        assert answer.headers["content-type"] == "application/problem+json"
        answer = await scoring_client.post(
            "/v1/certificates", json=body, headers=staged.dossier.owner.province_officer
        )
        assert answer.status_code == 201, answer.text
    certificate: dict[str, Any] = answer.json()
    url = f"/v1/certificates/{certificate['id']}"
    assert (await scoring_client.get(url, headers=headers)).status_code == read
    page = await scoring_client.get("/v1/certificates", headers=headers)
    if caller == "anonymous":
        assert page.status_code == 401
    else:
        assert (certificate["id"] in {item["id"] for item in page.json()["items"]}) is listed
    ground = {"ground": "misuse_of_mark", "reason": "Dùng nhãn OCOP cho sản phẩm khác"}
    answer = await scoring_client.post(f"{url}/revoke", json=ground, headers=headers)
    assert answer.status_code == revoke, answer.text
    status = (await scoring_client.get(url, headers=ADMIN)).json()["status"]
    assert status == ("revoked" if revoke == 200 else "active")


@pytest.mark.parametrize("caller", list(CALLERS))
async def test_public_routes_answer_every_caller(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection, caller: str
) -> None:
    """Probes, the certificate lookup and the certificates' statistics need no token and answer any role alike."""
    staged = await _scored(registry_client, scoring_client, db)
    body = {
        "application_id": staged.dossier.id,
        "decision_number": "8/QĐ-UBND",
        "issuing_authority": "UBND tỉnh",
    }
    issued = await scoring_client.post(
        "/v1/certificates", json=body, headers=staged.dossier.owner.province_officer
    )
    assert issued.status_code == 201, issued.text
    headers = CALLERS[caller](staged)
    for path in ("/healthz", "/readyz"):
        answer = await scoring_client.get(path, headers=headers)
        assert (answer.status_code, answer.json()["status"]) == (200, "ok"), path
    found = await scoring_client.get(
        "/v1/certificates/lookup", params={"number": issued.json()["number"]}, headers=headers
    )
    assert (found.status_code, found.json()["valid"]) == (200, True)
    missing = await scoring_client.get(
        "/v1/certificates/lookup", params={"number": "OCOP-00-2026-9999"}, headers=headers
    )
    assert missing.status_code == 404
    stats = await scoring_client.get(
        "/v1/certificates/stats", params={"by": "star", "province_code": staged.dossier.owner.unit.province_code},
        headers=headers,
    )  # fmt: skip
    assert (stats.status_code, stats.json()["items"]) == (200, [{"key": "4", "label": None, "count": 1}])


# Who reads the trail of a record in the dossier's province: its entries, none (another province), or 403.
AUDIT_ACCESS = dict.fromkeys(CALLERS, 403) | {
    "anonymous": 401, "admin": "all", "province officer": "all", "national": "all", "another province's officer": "none",
}  # fmt: skip


@pytest.mark.parametrize("caller", list(CALLERS))
async def test_who_reads_a_records_audit_trail(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection, caller: str
) -> None:
    """Admins, the national system and the province's officers read a dossier's entries; another province's
    officer reads none of them; every other role 403, anonymous 401."""
    staged = await _scored(registry_client, scoring_client, db)
    answer = await scoring_client.get(f"/v1/audit/{staged.dossier.id}", headers=CALLERS[caller](staged))
    expected = AUDIT_ACCESS[caller]
    if isinstance(expected, int):
        assert answer.status_code == expected, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        return
    assert answer.status_code == 200, answer.text
    actions = [entry["action"] for entry in answer.json()["items"]]
    if expected == "none":
        assert actions == []
    else:
        # (In a rolled-back test every entry has the transaction's time: their order is not checked here.)
        assert {"application.created", "application.submitted", "application.decided"} <= set(actions)
