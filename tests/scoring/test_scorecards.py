"""Scorecards and self-assessments refused: unknown criteria or options, missing criteria, a second card,
scoring outside the pass or the round, members who do not score; each a problem, nothing written."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import pytest

from services.scoring.criteria.arithmetic import score_card
from tests import builders
from tests.builders import ADMIN
from tests.conftest import auth


async def _in_scoring(
    registry: httpx.AsyncClient, scoring: httpx.AsyncClient, db: asyncpg.Connection
) -> builders.Scoring:
    made = await builders.dossier(registry, scoring, db)
    await builders.eligible(scoring, made)
    return await builders.in_scoring(scoring, made)


async def _cards(scoring: httpx.AsyncClient, staged: builders.Scoring) -> list[dict[str, object]]:
    cards: list[dict[str, object]] = (
        await scoring.get(f"{staged.dossier.url}/scorecards", headers=ADMIN)
    ).json()
    return cards


async def test_every_bad_choice_is_named_and_nothing_is_written(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """An unknown criterion, an option not offered and a criterion left out: one 422 naming each field."""
    staged = await _in_scoring(registry_client, scoring_client, db)
    choices = builders.choices_for(staged.tree)
    first, second = staged.tree.leaves[:2]
    del choices[first.code]
    choices[second.code] = "khong-co"
    choices["Z.9.9"] = "a"
    answer = await builders.scorecard(scoring_client, staged, staged.council.scorers[0], choices, 422)
    fields = {error["field"]: error["type"] for error in answer["errors"]}
    assert fields == {
        f"body.choices.{first.code}": "missing_choice",
        f"body.choices.{second.code}": "unknown_option",
        "body.choices.Z.9.9": "unknown_criterion",
    }
    chair = staged.council.chair
    assert (await scoring_client.get(f"{staged.dossier.url}/scorecards", headers=chair)).json() == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"choices": []},
        {"choices": {"A.1": 3}},
        {"choices": {"A 1": "a"}},
        {"choices": {"A.1": ""}},
        {"choices": {"A.1": "a"}, "total": 100},
        {"choices": {f"C{n}": "a" for n in range(1001)}},
    ],
)
async def test_malformed_cards_are_422(
    registry_client: httpx.AsyncClient,
    scoring_client: httpx.AsyncClient,
    db: asyncpg.Connection,
    body: dict[str, object],
) -> None:
    """Bodies that are not a map of codes to codes are refused before any rule runs."""
    staged = await _in_scoring(registry_client, scoring_client, db)
    answer = await scoring_client.post(
        f"{staged.dossier.url}/scorecards",
        json=body,
        headers=staged.council.member(staged.council.scorers[1]),
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"]


async def test_one_card_per_member_per_pass(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """A second card from the same member in the same pass is a 409; the first stands."""
    staged = await _in_scoring(registry_client, scoring_client, db)
    member = staged.council.scorers[1]
    kept = await builders.scorecard(scoring_client, staged, member, builders.choices_for(staged.tree, 70))
    again = await builders.scorecard(scoring_client, staged, member, builders.choices_for(staged.tree), 409)
    assert (again["type"], again["pass_number"]) == ("/problems/scorecard-exists", 1)
    assert [card["id"] for card in await _cards(scoring_client, staged)] == []  # the pass is still open
    mine = (
        await scoring_client.get(f"{staged.dossier.url}/scorecards", headers=staged.council.member(member))
    ).json()
    assert [(card["id"], card["total"]) for card in mine] == [(kept["id"], kept["total"])]


async def test_the_card_stores_the_arithmetics_scores(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Parts, total and flags are what criteria.arithmetic computes on the pinned sheet."""
    staged = await _in_scoring(registry_client, scoring_client, db)
    choices = builders.failing(staged.tree, builders.choices_for(staged.tree, 75))
    card = await builders.scorecard(scoring_client, staged, staged.council.scorers[0], choices)
    expected = score_card(staged.tree, choices)
    assert card["total"] == str(expected.total)
    assert card["parts"] == {part: str(value) for part, value in expected.parts.items()}
    assert card["mandatory_failed"] == list(expected.mandatory_failed)
    assert (card["choices"], card["pass_number"], card["member_role"]) == (choices, 1, "chair")


@pytest.mark.parametrize(
    ("who", "status", "kind"),
    [
        ("secretary", 403, "/problems/not-a-scorer"),
        ("a council member principal who is not seated", 403, "/problems/not-a-scorer"),
        ("another council's member", 404, "/problems/application-not-found"),
        ("producer", 403, "/problems/not-a-scorer"),
        ("province officer", 403, "/problems/not-a-scorer"),
        ("admin", 403, "/problems/not-a-scorer"),
        ("commune officer", 403, "/problems/not-a-scorer"),
        ("national", 404, "/problems/application-not-found"),
        ("partner", 404, "/problems/application-not-found"),
        ("another producer", 404, "/problems/application-not-found"),
        ("another province's officer", 404, "/problems/application-not-found"),
        ("service", 403, "/problems/not-a-scorer"),
        ("anonymous", 401, "/problems/unauthenticated"),
    ],
)
async def test_only_the_councils_scorers_submit_cards(
    registry_client: httpx.AsyncClient,
    scoring_client: httpx.AsyncClient,
    db: asyncpg.Connection,
    who: str,
    status: int,
    kind: str,
) -> None:
    """The chair and members of the scoring council: anyone else who sees the dossier 403, others 404."""
    staged = await _in_scoring(registry_client, scoring_client, db)
    owner = staged.dossier.owner
    headers = {
        "secretary": staged.council.member(staged.council.secretary),
        "a council member principal who is not seated": staged.council.member("nguoi-ngoai"),
        "another council's member": auth("council_member", str(uuid.uuid4()), sub=staged.council.scorers[0]),
        "producer": owner.headers,
        "province officer": owner.province_officer,
        "admin": ADMIN,
        "commune officer": owner.commune_officer,
        "national": auth("national", "client-1"),
        "partner": auth("partner", "client-1"),
        "another producer": auth("producer", str(uuid.uuid4())),
        "another province's officer": builders.province_officer("25"),
        "service": auth("service", "stamps"),
        "anonymous": {},
    }[who]
    answer = await scoring_client.post(
        f"{staged.dossier.url}/scorecards",
        json={"choices": builders.choices_for(staged.tree)},
        headers=headers,
    )
    assert (answer.status_code, answer.json()["type"]) == (status, kind), answer.text


async def test_no_card_outside_an_open_pass_or_round(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Before the pass opens a card is a 409 naming ``in_round``; in a closed round, a 409 round-closed."""
    made = await builders.dossier(registry_client, scoring_client, db)
    await builders.eligible(scoring_client, made)
    council = await builders.council(scoring_client, province_code=made.owner.unit.province_code)
    round_ = await builders.scoring_round(scoring_client, council)
    await builders.step(scoring_client, made, "assign", council.manager, {"round_id": round_["id"]})
    tree = await builders.sheet(scoring_client, made.application["sheet_id"])
    url = f"{made.url}/scorecards"
    early = await scoring_client.post(
        url, json={"choices": builders.choices_for(tree)}, headers=council.chair
    )
    assert (early.status_code, early.json()["current_state"]) == (409, "in_round")
    await builders.step(scoring_client, made, "start-scoring", council.manager)
    await scoring_client.post(f"/v1/rounds/{round_['id']}/close", headers=council.manager)
    late = await scoring_client.post(url, json={"choices": builders.choices_for(tree)}, headers=council.chair)
    assert (late.status_code, late.json()["type"]) == (409, "/problems/round-closed")
    assert (await scoring_client.get(url, headers=ADMIN)).json() == []


async def test_a_scorer_of_a_draft_is_not_found(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """A council's member does not see a dossier that is not in its council's round."""
    made = await builders.dossier(registry_client, scoring_client, db)
    council = await builders.council(scoring_client, province_code=made.owner.unit.province_code)
    answer = await scoring_client.post(
        f"{made.url}/scorecards", json={"choices": {"A.1": "a"}}, headers=council.chair
    )
    assert answer.status_code == 404


# The self-assessment


async def test_the_self_assessment_is_scored_and_kept(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Stored with its totals on the dossier's sheet; changed while a draft; read back by its readers."""
    made = await builders.dossier(registry_client, scoring_client, db)
    tree = await builders.sheet(scoring_client, made.application["sheet_id"])
    first = await builders.self_assessed(scoring_client, made, builders.choices_for(tree, 60))
    assert first["total"] == str(score_card(tree, builders.choices_for(tree, 60)).total)
    assert first["sheet_id"] == made.application["sheet_id"]
    second = await builders.self_assessed(scoring_client, made)
    assert second["total"] == "100.00"
    read = (
        await scoring_client.get(f"{made.url}/self-assessment", headers=made.owner.commune_officer)
    ).json()
    assert read == second
    missing = await scoring_client.get(f"/v1/applications/{uuid.uuid4()}/self-assessment", headers=ADMIN)
    assert missing.status_code == 404


async def test_a_bad_self_assessment_names_its_fields(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """The same checks as a council member's card; nothing is stored."""
    made = await builders.dossier(registry_client, scoring_client, db)
    answer = await scoring_client.put(
        f"{made.url}/self-assessment", json={"choices": {"Z.1": "a"}}, headers=made.owner.headers
    )
    assert answer.status_code == 422
    assert "body.choices.Z.1" in {error["field"] for error in answer.json()["errors"]}
    assert (
        await scoring_client.get(f"{made.url}/self-assessment", headers=made.owner.headers)
    ).status_code == 404


async def test_a_dossier_is_submitted_with_its_self_assessment(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Without one, submission is a 409; once submitted, the self-assessment is no longer changed."""
    made = await builders.dossier(registry_client, scoring_client, db)
    answer = await scoring_client.post(f"{made.url}/submit", headers=made.owner.headers)
    assert (answer.status_code, answer.json()["type"]) == (409, "/problems/self-assessment-missing")
    await builders.submitted(scoring_client, made)
    tree = await builders.sheet(scoring_client, made.application["sheet_id"])
    late = await scoring_client.put(
        f"{made.url}/self-assessment",
        json={"choices": builders.choices_for(tree)},
        headers=made.owner.headers,
    )
    assert (late.status_code, late.json()["current_state"]) == (409, "submitted")
