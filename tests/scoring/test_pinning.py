"""What a dossier is scored on: the criteria version and the product set's sheet, pinned when opened, by
each self-assessment and at each submission; a newer sheet between them means the self-assessment is
redone on it (the refusal names it), never that a dossier is scored on a sheet it was not assessed on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import httpx

from tests import builders
from tests.builders import ADMIN


async def _published_sheet(scoring: httpx.AsyncClient, *, like: str, product_set: int, rename: bool) -> str:
    """A sheet for ``product_set`` imported and published by an admin: a copy of sheet ``like``, with the
    options of its first leaf renamed when ``rename``."""
    document = (await scoring.get(f"/v1/score-sheets/{like}", headers=ADMIN)).json()
    nodes: list[dict[str, Any]] = document["nodes"]
    if rename:
        leaf = nodes[0]
        while leaf["children"]:
            leaf = leaf["children"][0]
        leaf["options"] = [{**option, "code": f"{option['code']}x"[:10]} for option in leaf["options"]]
    body = {"criteria_version": document["criteria_version"], "product_set": product_set, "nodes": nodes}
    created = await scoring.post("/v1/score-sheets", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    published = await scoring.post(f"/v1/score-sheets/{created.json()['id']}/publish", headers=ADMIN)
    assert published.status_code == 200, published.text
    return str(created.json()["id"])


async def test_a_newer_sheet_makes_the_self_assessment_be_redone_on_it(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Submission finds the newer sheet: 409 naming it, nothing changed; the redone assessment pins it."""
    made = await builders.dossier(registry_client, scoring_client, db)
    generic = made.application["sheet_id"]
    await builders.self_assessed(scoring_client, made)
    newer = await _published_sheet(
        scoring_client, like=generic, product_set=made.product["product_set"], rename=True
    )
    stale = await scoring_client.post(f"{made.url}/submit", headers=made.owner.headers)
    assert (stale.status_code, stale.json()["type"], stale.json()["sheet_id"]) == (
        409, "/problems/self-assessment-stale", newer,
    )  # fmt: skip
    unchanged = (await scoring_client.get(made.url, headers=made.owner.headers)).json()
    assert (unchanged["status"], unchanged["sheet_id"]) == ("draft", generic)
    # The old answers no longer fit: the refusal names the sheet to answer.
    old = (await scoring_client.get(f"{made.url}/self-assessment", headers=made.owner.headers)).json()[
        "choices"
    ]
    refused = await scoring_client.put(
        f"{made.url}/self-assessment", json={"choices": old}, headers=made.owner.headers
    )
    assert (refused.status_code, refused.json()["sheet_id"]) == (422, newer)
    redone = await builders.self_assessed(
        scoring_client, made, builders.choices_for(await builders.sheet(scoring_client, newer))
    )
    assert redone["sheet_id"] == newer
    submitted = await builders.step(scoring_client, made, "submit", made.owner.headers)
    assert (submitted["status"], submitted["sheet_id"], submitted["criteria_version"]) == (
        "submitted",
        newer,
        "26/2026",
    )


async def test_a_newer_sheet_with_the_same_criteria_takes_the_assessment_along(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """When the answers still fit the newer sheet, submission pins it and re-scores the assessment on it."""
    made = await builders.dossier(registry_client, scoring_client, db)
    await builders.self_assessed(scoring_client, made)
    newer = await _published_sheet(
        scoring_client,
        like=made.application["sheet_id"],
        product_set=made.product["product_set"],
        rename=False,
    )
    submitted = await builders.step(scoring_client, made, "submit", made.owner.headers)
    assert submitted["sheet_id"] == newer
    assessment = (await scoring_client.get(f"{made.url}/self-assessment", headers=made.owner.headers)).json()
    assert (assessment["sheet_id"], assessment["total"]) == (newer, "100.00")


async def test_the_registry_down_at_self_assessment_changes_nothing(
    registry_client: httpx.AsyncClient,
    scoring_client: httpx.AsyncClient,
    db: asyncpg.Connection,
    registry_down: Callable[[], Any],
) -> None:
    """The self-assessment reads the product's set from the registry first: down, it is a 503 and no write."""
    made = await builders.dossier(registry_client, scoring_client, db)
    tree = await builders.sheet(scoring_client, made.application["sheet_id"])
    async with registry_down():
        answer = await scoring_client.put(
            f"{made.url}/self-assessment",
            json={"choices": builders.choices_for(tree)},
            headers=made.owner.headers,
        )
    assert (answer.status_code, answer.headers["retry-after"]) == (503, "30")
    assert (
        await scoring_client.get(f"{made.url}/self-assessment", headers=made.owner.headers)
    ).status_code == 404
