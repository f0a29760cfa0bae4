"""Statistics: results and certificates in force counted by star, level, set, province and year, the
share of evaluated products rated 3★+, and who may read which (real dossiers through real councils)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

import asyncpg
import httpx

from shared import clock
from tests import builders
from tests.builders import ADMIN
from tests.conftest import auth

PROVINCE_AUTHORITY = "Ủy ban nhân dân tỉnh Thử"
MINISTRY = "Bộ Nông nghiệp và Môi trường"


async def _decided(
    registry: httpx.AsyncClient,
    scoring: httpx.AsyncClient,
    db: asyncpg.Connection,
    owner: builders.Producer,
    targets: tuple[int, ...] | None,
    *,
    product_set: int = 8,
) -> builders.Scoring:
    """A new product of ``owner`` scored by a province council (``targets``: each member's total; None: best)."""
    product = await builders.product(registry, owner, product_set=product_set)
    made = await builders.dossier(registry, scoring, db, owner=owner, product_=product)
    await builders.eligible(scoring, made)
    staged = await builders.in_scoring(scoring, made)
    await builders.score_all(scoring, staged, targets)
    return staged


async def _certify(
    scoring: httpx.AsyncClient, of: builders.Scoring, headers: dict[str, str]
) -> dict[str, Any]:
    authority = MINISTRY if headers is ADMIN else PROVINCE_AUTHORITY
    body = {"application_id": of.dossier.id, "decision_number": "15/QĐ-UBND", "issuing_authority": authority}
    answer = await scoring.post("/v1/certificates", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    certificate: dict[str, Any] = answer.json()
    return certificate


@dataclass(frozen=True)
class Landscape:
    """Two provinces' decisions and certificates, as the numbers below expect them."""

    first: builders.Producer  # province A: four products
    second: builders.Producer  # province B: one product, scored twice (a rescore)
    expires_on: str  # of the certificates issued today


async def _landscape(
    registry: httpx.AsyncClient, scoring: httpx.AsyncClient, db: asyncpg.Connection
) -> Landscape:
    """Province A: a 4★ (certified), a 3★ in set 14 (certified), a 2★ not recognised, and a potential 5★
    certified 4★ and then 5★ by the central council (the 5★ supersedes the 4★); province B: a rescore,
    then a 4★ certified and revoked. Six results, five certificates, three of them in force."""
    first = await builders.producer(registry, db)
    second = await builders.producer(registry, db)
    four = await _decided(registry, scoring, db, first, (76, 77, 78))
    three = await _decided(registry, scoring, db, first, (55, 56, 58), product_set=14)
    await _decided(registry, scoring, db, first, (40, 42, 45))
    five = await _decided(registry, scoring, db, first, None)
    issued = await _certify(scoring, four, first.province_officer)
    await _certify(scoring, three, first.province_officer)
    await _certify(scoring, five, first.province_officer)  # its provincial 4★, while central decides
    await builders.step(scoring, five.dossier, "propose-central", first.province_officer)
    central = await builders.in_scoring(scoring, five.dossier, central=True)
    assert (await builders.score_all(scoring, central, (95, 96, 97)))["status"] == "recognised"
    await _certify(scoring, five, ADMIN)
    product = await scoring.get(
        "/v1/certificates", params={"product_id": five.dossier.product["id"]}, headers=ADMIN
    )
    assert sorted((c["star"], c["status"]) for c in product.json()["items"]) == [
        (4, "superseded"),
        (5, "active"),
    ]
    rescored = await builders.dossier(registry, scoring, db, owner=second)
    await builders.eligible(scoring, rescored)
    staged = await builders.in_scoring(scoring, rescored)
    assert (await builders.score_all(scoring, staged, (100, 85, 75)))["status"] == "rescore"
    await builders.step(scoring, rescored, "start-scoring", staged.council.manager)
    assert (await builders.score_all(scoring, staged, (80, 82, 84)))["status"] == "recognised"
    revoked = await _certify(scoring, staged, second.province_officer)
    body = {"ground": "quality_violation", "reason": "Mẫu kiểm nghiệm không đạt"}
    answer = await scoring.post(
        f"/v1/certificates/{revoked['id']}/revoke", json=body, headers=second.province_officer
    )
    assert answer.status_code == 200, answer.text
    return Landscape(first, second, issued["expires_on"])


def _counts(answer: httpx.Response) -> dict[str | None, int]:
    assert answer.status_code == 200, answer.text
    body = answer.json()
    counts = {item["key"]: item["count"] for item in body["items"]}
    assert sum(counts.values()) == body["total"]
    return counts


async def test_results_and_certificates_in_force_are_counted_by_each_key(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Six decisions (the rescore records none; the 5★ product has a provincial and a central one);
    three certificates in force (the superseded 4★ and the revoked one are not)."""
    land = await _landscape(registry_client, scoring_client, db)
    a, b = land.first.unit.province_code, land.second.unit.province_code
    year = str(clock.today().year)

    async def results(**params: Any) -> httpx.Response:
        return await scoring_client.get("/v1/results/stats", params=params, headers=ADMIN)

    async def certificates(**params: Any) -> httpx.Response:
        return await scoring_client.get("/v1/certificates/stats", params=params)

    assert _counts(await results(by="star")) == {"2": 1, "3": 1, "4": 3, "5": 1}
    assert _counts(await results(by="level")) == {"province": 5, "central": 1}
    assert _counts(await results(by="product_set")) == {"8": 5, "14": 1}
    assert _counts(await results(by="province")) == {a: 5, b: 1}
    assert _counts(await results(by="year")) == {year: 6}
    assert _counts(await results(by="star", province_code=b)) == {"4": 1}
    assert _counts(await results(by="star", year=int(year) + 1)) == {}
    levels = (await results(by="level")).json()["items"]
    assert [(item["key"], item["label"]) for item in levels] == [
        ("province", "Cấp tỉnh"), ("central", "Cấp trung ương"),
    ]  # fmt: skip
    # Latest decided result per product: the 5★ product counts once, as 5★; the 2★ one is not 3★+.
    everywhere = (await results(by="star")).json()
    assert everywhere["rated"] == {
        "products_evaluated": 5,
        "products_3_star_plus": 4,
        "share_3_star_plus": 0.8,
    }
    in_a = (await results(by="star", province_code=a)).json()
    assert in_a["rated"] == {"products_evaluated": 4, "products_3_star_plus": 3, "share_3_star_plus": 0.75}
    assert (await results(by="star", year=2001)).json()["rated"] == {
        "products_evaluated": 0, "products_3_star_plus": 0, "share_3_star_plus": None,
    }  # fmt: skip

    assert _counts(await certificates(by="star")) == {"3": 1, "4": 1, "5": 1}
    assert _counts(await certificates(by="level")) == {"province": 2, "central": 1}
    assert _counts(await certificates(by="product_set")) == {"8": 2, "14": 1}
    assert _counts(await certificates(by="province")) == {a: 3}
    assert _counts(await certificates(by="year")) == {year: 3}
    assert _counts(await certificates(by="star", province_code=b)) == {}
    assert _counts(await certificates(by="star", year=int(year) - 1)) == {}
    # In force until the day before they run out, whether or not the daily job has moved them yet.
    expires_on = datetime.fromisoformat(land.expires_on).date()
    for day, expected in ((expires_on - timedelta(days=1), 3), (expires_on, 0)):
        with clock.frozen_at(datetime.combine(day, time(12), tzinfo=clock.VIETNAM)):
            assert (await certificates(by="star")).json()["total"] == expected, day


async def test_who_reads_the_results_statistics(
    registry_client: httpx.AsyncClient, scoring_client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Admins, services and the national system everywhere; a province officer its own province only;
    other roles 403; no token 401."""
    owner = await builders.producer(registry_client, db)
    await _decided(registry_client, scoring_client, db, owner, (76, 77, 78))
    mine = owner.unit.province_code
    url = "/v1/results/stats"
    for headers in (ADMIN, auth("service", "stamps"), auth("national", "vn")):
        answer = await scoring_client.get(url, params={"by": "province"}, headers=headers)
        assert _counts(answer) == {mine: 1}, headers
        assert answer.headers["cache-control"] == "private, max-age=60"
    officer = await scoring_client.get(url, params={"by": "star"}, headers=owner.province_officer)
    assert (officer.json()["province_code"], _counts(officer)) == (mine, {"4": 1})
    other_officer = auth("province_officer", "01")
    assert _counts(await scoring_client.get(url, params={"by": "star"}, headers=other_officer)) == {}
    refused = await scoring_client.get(
        url, params={"by": "star", "province_code": mine}, headers=other_officer
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["errors"][0]["field"] == "query.province_code"
    strangers = [
        owner.headers, owner.commune_officer, auth("producer", str(uuid.uuid4())), auth("partner", "p"),
        auth("council_member", str(uuid.uuid4())), auth("province_officer", "2x"),
    ]  # fmt: skip
    for headers in strangers:
        answer = await scoring_client.get(url, params={"by": "star"}, headers=headers)
        assert answer.status_code == 403, (headers, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    assert (await scoring_client.get(url, params={"by": "star"})).status_code == 401


async def test_certificate_statistics_are_public_and_bad_parameters_are_named(
    scoring_client: httpx.AsyncClient,
) -> None:
    """No token needed (a token sent must be valid); a bad key, province or year is a 422 naming it."""
    url = "/v1/certificates/stats"
    for headers in ({}, auth("producer", str(uuid.uuid4())), auth("partner", "p"), ADMIN):
        answer = await scoring_client.get(url, params={"by": "star"}, headers=headers)
        assert answer.status_code == 200, headers
        assert answer.json() == {"by": "star", "province_code": None, "year": None, "total": 0, "items": []}
        assert answer.headers["cache-control"] == "public, max-age=60"
    broken = await scoring_client.get(url, params={"by": "star"}, headers={"Authorization": "Bearer nope"})
    assert broken.status_code == 401
    for params, field in [
        ({"by": "colour"}, "query.by"), ({}, "query.by"), ({"by": "star", "province_code": "2"}, "query.province_code"),
        ({"by": "star", "year": "1999"}, "query.year"), ({"by": "star", "year": "x"}, "query.year"),
    ]:  # fmt: skip
        for path in (url, "/v1/results/stats"):
            answer = await scoring_client.get(path, params=params, headers=ADMIN)
            assert answer.status_code == 422, (path, params)
            assert [error["field"] for error in answer.json()["errors"]] == [field]
