"""/v1/stamp-statistics: stamps issued, active and scanned, certified products' coverage, by group; who sees whose.

Stamp states are set through the lifecycle API (``stamps_in_state``); scans are written into verification's
per-stamp summary (``scan_summary``) as its hot path would.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.builders import ADMIN, generated_batch, scan_summary, serials_of, stamped_product, stamps_in_state
from tests.conftest import auth

pytestmark = pytest.mark.commits  # the generation job commits
STATISTICS = "/v1/stamp-statistics"
NOTHING = {
    "stamps_issued": 0, "stamps_active": 0, "stamps_scanned": 0, "scans": 0, "certified_products": 0,
    "certified_products_with_active_stamps": 0, "active_stamp_coverage": None,
}  # fmt: skip


def figures(
    issued: int, active: int, scanned: int, scans: int, certified: int, covered: int
) -> dict[str, Any]:
    return {
        "stamps_issued": issued, "stamps_active": active, "stamps_scanned": scanned, "scans": scans,
        "certified_products": certified, "certified_products_with_active_stamps": covered,
        "active_stamp_coverage": round(covered / certified, 4) if certified else None,
    }  # fmt: skip


async def stamps_with(stamps: httpx.AsyncClient, product: dict[str, Any], states: list[str]) -> list[str]:
    """A generated batch of ``product`` whose stamps (in serial order) are put in ``states``."""
    batch = await generated_batch(stamps, product, quantity=len(states))
    serials = await serials_of(stamps, batch)
    for state in set(states):
        await stamps_in_state(
            stamps, product, [s for s, wanted in zip(serials, states, strict=True) if wanted == state], state
        )
    return serials


async def crafted(stamps: httpx.AsyncClient) -> dict[str, Any]:
    """Two provinces' products, stamps and scans; the figures each grouping must show are in the tests."""
    p1 = await stamped_product(stamps, province="22")
    # A second product of the same producer (E1).
    p2 = await stamped_product(stamps, province="22", entity=p1["entity_id"])
    p3 = await stamped_product(stamps, province="22")  # certified, no stamps
    p4 = await stamped_product(stamps, province="22", status="expired")  # not certified, no stamps: nowhere
    p5 = await stamped_product(stamps, province="01")
    s1 = await stamps_with(stamps, p1, ["active", "active", "issued", "void", "reserved"])
    s2 = await stamps_with(stamps, p2, ["issued", "suspended"])
    s5 = await stamps_with(stamps, p5, ["active", "active", "revoked"])
    for serial, count in ((s1[0], 3), (s1[2], 1), (s1[3], 4), (s2[1], 2), (s5[0], 5)):
        await scan_summary(stamps, serial, count)
    return {"p1": p1, "p2": p2, "p3": p3, "p4": p4, "p5": p5}


def without_keys(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in item.items() if k not in ("key", "label")} for item in items]


async def test_the_figures_by_province_entity_and_product(stamps: httpx.AsyncClient) -> None:
    made = await crafted(stamps)
    p1, p2, p3, p5 = made["p1"], made["p2"], made["p3"], made["p5"]

    answer = await stamps.get(STATISTICS, params={"group_by": "province"}, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["group_by"], body["province_code"]) == ("province", None)
    # 22: issued = P1's active, active, issued + P2's issued, suspended (void and reserved are not issued);
    # scanned = P1's 1st, 3rd and 4th (void, 4 scans) and P2's 2nd; certified = P1, P2, P3 (P4's expired).
    assert [(item["key"], item["label"]) for item in body["items"]] == [
        ("01", p5["province_name"]), ("22", "Tỉnh Quảng Ninh"),
    ]  # fmt: skip
    assert without_keys(body["items"]) == [figures(3, 2, 1, 5, 1, 1), figures(5, 2, 4, 10, 3, 1)]
    assert body["total"] == figures(8, 4, 5, 15, 4, 2)
    assert body["items"][1]["active_stamp_coverage"] == 0.3333

    by_entity = (
        await stamps.get(STATISTICS, params={"group_by": "entity", "province_code": "22"}, headers=ADMIN)
    ).json()
    assert {item["key"]: item["label"] for item in by_entity["items"]} == {
        p1["entity_id"]: p1["entity_legal_name"], p3["entity_id"]: p3["entity_legal_name"],
    }  # fmt: skip
    entities = {item["key"]: without_keys([item])[0] for item in by_entity["items"]}
    assert entities == {
        p1["entity_id"]: figures(5, 2, 4, 10, 2, 1),
        p3["entity_id"]: figures(0, 0, 0, 0, 1, 0),
    }
    assert by_entity["total"] == figures(5, 2, 4, 10, 3, 1)

    by_product = (await stamps.get(STATISTICS, params={"group_by": "product"}, headers=p1["officer"])).json()
    products = {item["key"]: (item["label"], without_keys([item])[0]) for item in by_product["items"]}
    assert products == {
        p1["id"]: (p1["name"], figures(3, 2, 3, 8, 1, 1)),
        p2["id"]: (p2["name"], figures(2, 0, 1, 2, 1, 0)),
        p3["id"]: (p3["name"], figures(0, 0, 0, 0, 1, 0)),
    }  # an officer of 22: P5 is another province's, P4 has neither stamps nor a certificate in force
    assert [item["label"] for item in by_product["items"]] == sorted(
        item["label"] for item in by_product["items"]
    )


async def test_who_sees_whose_figures(stamps: httpx.AsyncClient) -> None:
    made = await crafted(stamps)
    province = {"group_by": "province"}
    everything = (await stamps.get(STATISTICS, params=province, headers=ADMIN)).json()
    national = await stamps.get(STATISTICS, params=province, headers=auth("national", "cong-quoc-gia"))
    assert national.json()["items"] == everything["items"]
    officer_01 = (await stamps.get(STATISTICS, params=province, headers=made["p5"]["officer"])).json()
    assert [item["key"] for item in officer_01["items"]] == ["01"]
    assert officer_01["total"] == figures(3, 2, 1, 5, 1, 1)
    other_province = await stamps.get(
        STATISTICS, params={**province, "province_code": "22"}, headers=made["p5"]["officer"]
    )
    assert (other_province.json()["items"], other_province.json()["total"]) == ([], NOTHING)
    producer = (await stamps.get(STATISTICS, params=province, headers=made["p1"]["producer"])).json()
    assert without_keys(producer["items"]) == [figures(5, 2, 4, 10, 2, 1)]  # its own two products only
    for who, headers in {
        "a commune officer": auth("commune_officer", made["p1"]["commune_code"]),
        "a council member": auth("council_member", str(uuid.uuid4())),
        "a partner": auth("partner", "doi-tac"),
        "a service": auth("service", "scoring"),
        "a producer without a scope": auth("producer"),
        "an officer with a malformed scope": auth("province_officer", "2"),
        "another producer": auth("producer", str(uuid.uuid4())),
    }.items():
        answer = await stamps.get(STATISTICS, params=province, headers=headers)
        assert answer.status_code == 200, (who, answer.text)
        assert (answer.json()["items"], answer.json()["total"]) == ([], NOTHING), who
    anonymous = await stamps.get(STATISTICS, params=province)
    assert (anonymous.status_code, anonymous.headers["content-type"]) == (401, "application/problem+json")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "query.group_by"),
        ({"group_by": "commune"}, "query.group_by"),
        ({"group_by": "province", "province_code": "2"}, "query.province_code"),
        ({"group_by": "province", "province_code": "ha-noi"}, "query.province_code"),
    ],
)
async def test_bad_parameters_are_422_naming_them(
    stamps: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    answer = await stamps.get(STATISTICS, params=params, headers=ADMIN)
    assert answer.status_code == 422, answer.text
    assert field in [error["field"] for error in answer.json()["errors"]]
