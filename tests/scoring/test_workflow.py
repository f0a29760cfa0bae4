"""Dossiers through their councils: several members, the last card deciding, a rescore, the quorum, an
upgrade, the potential 5★ route to a central round and what the central council may decide."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.scoring.applications import service as applications
from services.scoring.applications.errors import ResultNotFound
from services.scoring.criteria.arithmetic import SheetTree, score_card
from tests import builders
from tests.builders import ADMIN
from tests.support.isolation import Scope


def expected_average(tree: SheetTree, cards: list[dict[str, str]]) -> Decimal:
    """The mean of the cards' totals as the rules say: 2 places, half up."""
    totals = [score_card(tree, choices).total for choices in cards]
    return (sum(totals, Decimal(0)) / len(totals)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


async def _scoring(
    registry: httpx.AsyncClient, scoring: httpx.AsyncClient, db: asyncpg.Connection, **options: object
) -> builders.Scoring:
    made = await builders.dossier(registry, scoring, db, **options)  # type: ignore[arg-type]
    await builders.eligible(scoring, made)
    return await builders.in_scoring(scoring, made)


async def _results(scoring: httpx.AsyncClient, of: builders.Scoring) -> list[dict[str, object]]:
    answer = await scoring.get(f"{of.dossier.url}/results", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    results: list[dict[str, object]] = answer.json()
    return results


async def test_the_last_members_card_decides_the_pass(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Three members score around 75: the last card records a 4★ result with the means of totals and parts."""
    staged = await _scoring(registry_client, scoring_client, db)
    cards = [builders.choices_for(staged.tree, target) for target in (72, 76, 78)]
    for sub, choices in zip(staged.council.scorers[:-1], cards[:-1], strict=True):
        await builders.scorecard(scoring_client, staged, sub, choices)
        assert (await scoring_client.get(staged.dossier.url, headers=ADMIN)).json()["status"] == "scoring"
    assert await _results(scoring_client, staged) == []
    await builders.scorecard(scoring_client, staged, staged.council.scorers[-1], cards[-1])
    application = (await scoring_client.get(staged.dossier.url, headers=ADMIN)).json()
    assert application["status"] == "recognised"
    [result] = await _results(scoring_client, staged)
    average = expected_average(staged.tree, cards)
    assert Decimal(str(result["average_total"])) == average
    assert (result["star"], result["band_star"], result["outcome"], result["level"]) == (
        4,
        4,
        "recognised",
        "province",
    )
    assert (result["members_scored"], result["members_expected"], result["pass_number"]) == (3, 3, 1)
    assert (result["criteria_version"], result["product_id"], result["application_type"]) == (
        application["criteria_version"], staged.dossier.product["id"], "new",
    )  # fmt: skip
    part_means = {
        part: (sum((score_card(staged.tree, c).parts[part] for c in cards), Decimal(0)) / 3).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )
        for part in ("A", "B", "C")
    }
    assert {part: Decimal(str(value)) for part, value in result["parts"].items()} == part_means  # type: ignore[attr-defined]
    assert "ROUND_HALF_UP" in str(result["rule"])
    actions = [
        e["action"]
        for e in (await scoring_client.get(f"/v1/audit/{result['id']}", headers=ADMIN)).json()["items"]
    ]
    assert actions == ["result.recorded"]


async def test_a_wide_spread_sends_the_dossier_to_rescore(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Totals more than 10 apart: no result, RESCORE; the next pass's cards decide, the old ones stay readable."""
    staged = await _scoring(registry_client, scoring_client, db)
    application = await builders.score_all(scoring_client, staged, (100, 85, 75))
    assert (application["status"], application["scoring_pass"]) == ("rescore", 1)
    assert await _results(scoring_client, staged) == []
    chair = staged.council.chair
    first_pass = (await scoring_client.get(f"{staged.dossier.url}/scorecards", headers=chair)).json()
    assert len(first_pass) == 3  # the pass is closed: the council discusses every card
    refused = await builders.scorecard(
        scoring_client, staged, staged.council.scorers[0], builders.choices_for(staged.tree), 409
    )
    assert refused["current_state"] == "rescore"
    reopened = await builders.step(scoring_client, staged.dossier, "start-scoring", staged.council.manager)
    assert (reopened["status"], reopened["scoring_pass"]) == ("scoring", 2)
    application = await builders.score_all(scoring_client, staged, (80, 82, 84))
    assert application["status"] == "recognised"
    [result] = await _results(scoring_client, staged)
    assert (result["pass_number"], result["star"]) == (2, 4)
    cards = (await scoring_client.get(f"{staged.dossier.url}/scorecards", headers=ADMIN)).json()
    assert sorted(card["pass_number"] for card in cards) == [1, 1, 1, 2, 2, 2]
    actions = [
        e["action"]
        for e in (await scoring_client.get(f"/v1/audit/{staged.dossier.id}", headers=ADMIN)).json()["items"]
    ]
    assert actions.count("application.rescore") == 1
    assert actions.count("application.decided") == 1


async def test_a_member_sees_only_their_own_card_until_the_pass_closes(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """During the pass each member reads only their card and officers none; after it, all read all."""
    staged = await _scoring(registry_client, scoring_client, db)
    first, second, third = staged.council.scorers
    await builders.scorecard(scoring_client, staged, first, builders.choices_for(staged.tree, 80))
    await builders.scorecard(scoring_client, staged, second, builders.choices_for(staged.tree, 82))
    url = f"{staged.dossier.url}/scorecards"
    mine = (await scoring_client.get(url, headers=staged.council.member(first))).json()
    assert [card["member_sub"] for card in mine] == [first]
    assert (await scoring_client.get(url, headers=staged.council.member(third))).json() == []
    assert (await scoring_client.get(url, headers=staged.dossier.owner.province_officer)).json() == []
    assert (await scoring_client.get(url, headers=ADMIN)).json() == []
    await builders.scorecard(scoring_client, staged, third, builders.choices_for(staged.tree, 81))
    for headers in (staged.council.member(third), staged.dossier.owner.province_officer, ADMIN):
        cards = (await scoring_client.get(url, headers=headers)).json()
        assert sorted(card["member_sub"] for card in cards) == sorted(staged.council.scorers)


@pytest.mark.parametrize(
    ("targets", "star", "outcome"), [((55, 56, 58), 3, "recognised"), ((40, 42, 45), 2, "not_recognised")]
)
async def test_stars_below_four(
    registry_client: httpx.AsyncClient,
    scoring_client: httpx.AsyncClient,
    db: asyncpg.Connection,
    targets: tuple[int, ...],
    star: int,
    outcome: str,
) -> None:
    """An average in the 3★ band is recognised 3★; under 50 is not recognised (feedback only)."""
    staged = await _scoring(registry_client, scoring_client, db)
    application = await builders.score_all(scoring_client, staged, targets)
    assert application["status"] == outcome
    [result] = await _results(scoring_client, staged)
    assert (result["star"], result["outcome"]) == (star, outcome)


async def test_a_mandatory_criterion_failed_is_not_recognised(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """One member failing a mandatory criterion keeps a high-scoring product below 3★."""
    staged = await _scoring(registry_client, scoring_client, db)
    best = builders.choices_for(staged.tree)
    failed = builders.failing(staged.tree, best)
    assert score_card(staged.tree, failed).mandatory_failed
    subs = staged.council.scorers
    await builders.scorecard(scoring_client, staged, subs[0], best)
    await builders.scorecard(scoring_client, staged, subs[1], best)
    await builders.scorecard(scoring_client, staged, subs[2], failed)
    [result] = await _results(scoring_client, staged)
    assert (result["outcome"], result["star"]) == ("not_recognised", 2)
    assert result["mandatory_failed"] == list(score_card(staged.tree, failed).mandatory_failed)
    assert (await scoring_client.get(staged.dossier.url, headers=ADMIN)).json()["status"] == "not_recognised"


async def test_a_potential_five_star_goes_to_the_central_council(
    registry_client: httpx.AsyncClient,
    scoring_client: httpx.AsyncClient,
    db: asyncpg.Connection,
    scope: Scope,
) -> None:
    """≥ 90 at province: 4★ and potential 5★; proposed, scored centrally ≥ 90: 5★ by the central council."""
    staged = await _scoring(registry_client, scoring_client, db)
    application = await builders.score_all(scoring_client, staged)
    assert application["status"] == "potential_5_star"
    [provincial] = await _results(scoring_client, staged)
    assert (provincial["band_star"], provincial["star"], provincial["outcome"]) == (5, 4, "potential_5_star")
    async with scope.scoring.sessionmaker() as session:  # type: ignore[union-attr]
        decided = await applications.decided_result(session, application_id=staged.dossier.application["id"])
    assert (decided.star, decided.level, str(decided.id)) == (4, "province", provincial["id"])
    # Province officers may not put it in a central round; admins, who manage the central council, do.
    await builders.step(
        scoring_client, staged.dossier, "propose-central", staged.dossier.owner.province_officer
    )
    central = await builders.council(scoring_client, province_code=None)
    central_round = await builders.scoring_round(scoring_client, central)
    refused = await scoring_client.post(
        f"{staged.dossier.url}/assign-central", json={"round_id": central_round["id"]},
        headers=staged.dossier.owner.province_officer,
    )  # fmt: skip
    assert refused.status_code == 403
    at_central = await builders.in_scoring(scoring_client, staged.dossier, council_=central, central=True)
    assert (await scoring_client.get(staged.dossier.url, headers=ADMIN)).json()["level"] == "central"
    # The provincial council's members no longer see the dossier; the central council's do.
    assert (await scoring_client.get(staged.dossier.url, headers=staged.council.chair)).status_code == 404
    application = await builders.score_all(scoring_client, at_central, (95, 96, 97))
    assert application["status"] == "recognised"
    results = await _results(scoring_client, staged)
    assert [(r["level"], r["star"], r["outcome"]) for r in results] == [
        ("province", 4, "potential_5_star"), ("central", 5, "recognised"),
    ]  # fmt: skip
    async with scope.scoring.sessionmaker() as session:  # type: ignore[union-attr]
        decided = await applications.decided_result(session, application_id=staged.dossier.application["id"])
    assert (decided.star, decided.level, str(decided.council_id)) == (5, "central", central.id)


async def test_a_central_result_under_90_keeps_the_provincial_four_stars(
    registry_client: httpx.AsyncClient,
    scoring_client: httpx.AsyncClient,
    db: asyncpg.Connection,
    scope: Scope,
) -> None:
    """The central council does not find 90: the product keeps its provincial 4★ result."""
    staged = await _scoring(registry_client, scoring_client, db)
    await builders.score_all(scoring_client, staged)
    await builders.step(scoring_client, staged.dossier, "propose-central", ADMIN)
    at_central = await builders.in_scoring(scoring_client, staged.dossier, central=True)
    application = await builders.score_all(scoring_client, at_central, (85, 86, 88))
    assert application["status"] == "recognised"
    provincial, central = await _results(scoring_client, staged)
    assert (central["level"], central["band_star"], central["star"], central["outcome"]) == (
        "central", 4, 4, "provincial_result_kept",
    )  # fmt: skip
    async with scope.scoring.sessionmaker() as session:  # type: ignore[union-attr]
        decided = await applications.decided_result(session, application_id=staged.dossier.application["id"])
    assert (str(decided.id), decided.star, decided.level) == (provincial["id"], 4, "province")


async def test_an_upgrade_of_a_three_star_product(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """A certified 3★ product applies for an upgrade and is scored 4★; the result says it was an upgrade."""
    owner = await builders.producer(registry_client, db)
    certified = await builders.certified_product(registry_client, owner, star=3)
    staged = await _scoring(
        registry_client, scoring_client, db, owner=owner, product_=certified, application_type="upgrade"
    )
    await builders.score_all(scoring_client, staged, (75, 76, 77))
    [result] = await _results(scoring_client, staged)
    assert (result["application_type"], result["star"], result["outcome"]) == ("upgrade", 4, "recognised")


async def test_close_scoring_decides_with_a_quorum_including_the_chair(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Four scorers: two cards are short of 75 %; three, chair included, are enough to close the pass."""
    made = await builders.dossier(registry_client, scoring_client, db)
    await builders.eligible(scoring_client, made)
    council = await builders.council(
        scoring_client,
        province_code=made.owner.unit.province_code,
        scorers=("chu-tich", "tv-1", "tv-2", "tv-3"),
    )
    staged = await builders.in_scoring(scoring_client, made, council_=council)
    await builders.scorecard(scoring_client, staged, "tv-1", builders.choices_for(staged.tree, 80))
    await builders.scorecard(scoring_client, staged, "tv-2", builders.choices_for(staged.tree, 80))
    short = await scoring_client.post(f"{made.url}/close-scoring", headers=council.manager)
    assert (short.status_code, short.json()["type"]) == (409, "/problems/quorum-not-met")
    assert (short.json()["members_scored"], short.json()["members_expected"]) == (2, 4)
    await builders.scorecard(scoring_client, staged, "tv-3", builders.choices_for(staged.tree, 80))
    no_chair = await scoring_client.post(f"{made.url}/close-scoring", headers=council.manager)
    assert no_chair.status_code == 409
    assert "chair" in no_chair.json()["detail"]
    await builders.scorecard(scoring_client, staged, "chu-tich", builders.choices_for(staged.tree, 80))
    # The fourth card was the last expected one: it decided the pass by itself.
    assert (await scoring_client.get(made.url, headers=ADMIN)).json()["status"] == "recognised"


async def test_close_scoring_without_the_last_member(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Three of four cards with the chair make the quorum: the officer closes, the result counts three."""
    made = await builders.dossier(registry_client, scoring_client, db)
    await builders.eligible(scoring_client, made)
    council = await builders.council(
        scoring_client,
        province_code=made.owner.unit.province_code,
        scorers=("chu-tich", "tv-1", "tv-2", "tv-3"),
    )
    staged = await builders.in_scoring(scoring_client, made, council_=council)
    for sub in ("chu-tich", "tv-1", "tv-2"):
        await builders.scorecard(scoring_client, staged, sub, builders.choices_for(staged.tree, 60))
    denied = await scoring_client.post(f"{made.url}/close-scoring", headers=council.chair)
    assert denied.status_code == 403
    closed = await builders.step(scoring_client, made, "close-scoring", council.manager)
    assert closed["status"] == "recognised"
    [result] = await _results(scoring_client, staged)
    assert (result["members_scored"], result["members_expected"], result["star"]) == (3, 4, 3)
    late = await builders.scorecard(
        scoring_client, staged, "tv-3", builders.choices_for(staged.tree, 60), 409
    )
    assert late["current_state"] == "recognised"


async def test_results_and_scorecards_are_never_changed(
    registry_client: httpx.AsyncClient,
    scoring_client: httpx.AsyncClient,
    db: asyncpg.Connection,
    scope: Scope,
) -> None:
    """The database itself refuses an UPDATE of a result or a scorecard."""
    staged = await _scoring(registry_client, scoring_client, db)
    await builders.score_all(scoring_client, staged, (70, 72, 74))
    for statement in ("UPDATE scoring.result SET star = 5", "UPDATE scoring.scorecard SET total = 100"):
        async with scope.scoring.sessionmaker() as session:  # type: ignore[union-attr]
            with pytest.raises(DBAPIError, match="immutable"):
                await session.execute(text(statement))


async def test_decided_result_of_an_undecided_dossier_is_not_found(
    registry_client: httpx.AsyncClient,
    scoring_client: httpx.AsyncClient,
    db: asyncpg.Connection,
    scope: Scope,
) -> None:
    """No result yet (a rescore records none): ResultNotFound."""
    staged = await _scoring(registry_client, scoring_client, db)
    await builders.score_all(scoring_client, staged, (100, 70, 80))
    async with scope.scoring.sessionmaker() as session:  # type: ignore[union-attr]
        with pytest.raises(ResultNotFound):
            await applications.decided_result(session, application_id=staged.dossier.application["id"])


async def test_a_potential_five_star_does_not_block_the_products_next_evaluation(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """It holds its 4★ decision: a new dossier may be opened, and then the old one is no longer proposed."""
    staged = await _scoring(registry_client, scoring_client, db)
    await builders.score_all(scoring_client, staged)
    made = staged.dossier
    body = {"product_id": made.product["id"], "type": "new"}
    reopened = await scoring_client.post("/v1/applications", json=body, headers=made.owner.headers)
    assert reopened.status_code == 201, reopened.text
    late = await scoring_client.post(f"{made.url}/propose-central", headers=made.owner.province_officer)
    assert (late.status_code, late.json()["application_id"]) == (409, reopened.json()["id"])
    assert (await scoring_client.get(made.url, headers=ADMIN)).json()["status"] == "potential_5_star"
