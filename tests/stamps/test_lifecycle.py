"""/v1/stamps: the lifecycle of TRACEABILITY §4.4 — every transition allowed and refused, lists all or
nothing, batches skipping other states, idempotency, activation's rules, the audit, who may do what."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from services.stamps.lifecycle import service
from shared import clock, gs1
from tests.builders import (
    ADMIN,
    active_stamps,
    certificate_snapshot,
    generated_batch,
    post_event,
    stamped_product,
)
from tests.conftest import auth

pytestmark = pytest.mark.commits  # the app's own pools and the generation job commit
STAMPS = "/v1/stamps"
STATES = ("reserved", "issued", "active", "suspended", "revoked", "void")
# §4.4: action → the states it starts from, and where it leads.
TRANSITIONS = {
    "issue": ({"reserved"}, "issued"),
    "activate": ({"issued"}, "active"),
    "suspend": ({"active"}, "suspended"),
    "unsuspend": ({"suspended"}, "active"),
    "revoke": ({"active", "suspended"}, "revoked"),
    "void": ({"reserved", "issued", "active"}, "void"),
}
REASON = "Tem in lỗi, đã hủy"


async def query(stamps: httpx.AsyncClient, sql: str, **parameters: Any) -> list[Any]:
    """Rows read from the service's own database."""
    app = stamps._transport.app  # type: ignore[attr-defined]
    async with app.state.db.sessionmaker() as session:
        return list((await session.execute(text(sql), parameters)).all())


async def states(stamps: httpx.AsyncClient, serials: list[str]) -> dict[str, str]:
    rows = await query(stamps, "SELECT serial, state FROM stamps.stamp WHERE serial = ANY(:s)", s=serials)
    return {row.serial: row.state for row in rows}


async def changes(stamps: httpx.AsyncClient) -> int:
    return int((await query(stamps, "SELECT count(*) AS n FROM stamps.stamp_change"))[0].n)


async def act(
    stamps: httpx.AsyncClient, action: str, headers: dict[str, str], status: int = 200, **body: Any
) -> dict[str, Any]:
    if action in ("suspend", "revoke", "void"):
        body.setdefault("reason", REASON)
    answer = await stamps.post(f"{STAMPS}/{action}", json=body, headers=headers)
    assert answer.status_code == status, (action, body, answer.text)
    result: dict[str, Any] = answer.json()
    return result


async def in_every_state(
    stamps: httpx.AsyncClient, product: dict[str, Any], groups: int
) -> list[dict[str, str]]:
    """``groups`` groups of six stamps of one batch, one stamp in each state; each group as state → serial."""
    batch = await generated_batch(stamps, product, quantity=6 * groups)
    serials = [row.serial for row in await query(
        stamps, "SELECT serial FROM stamps.stamp WHERE batch_id = :b ORDER BY serial", b=batch["id"]
    )]  # fmt: skip
    laid = [dict(zip(STATES, serials[6 * g : 6 * g + 6], strict=True)) for g in range(groups)]

    def those(*wanted: str) -> list[str]:
        return [group[state] for group in laid for state in wanted]

    await act(stamps, "issue", ADMIN, serials=those("issued", "active", "suspended", "revoked"))
    await act(stamps, "activate", ADMIN, serials=those("active", "suspended", "revoked"))
    await act(stamps, "suspend", ADMIN, serials=those("suspended"))
    await act(stamps, "revoke", ADMIN, serials=those("revoked"))
    await act(stamps, "void", ADMIN, serials=those("void"))
    assert await states(stamps, serials) == {group[state]: state for group in laid for state in STATES}
    return laid


async def test_every_transition_of_the_state_machine_is_allowed_or_refused(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    groups = await in_every_state(stamps, product, len(TRANSITIONS))
    for (action, (sources, target)), group in zip(TRANSITIONS.items(), groups, strict=True):
        for state in STATES:
            serial = group[state]
            if state in sources:
                done = await act(stamps, action, ADMIN, serials=[serial])
                assert (done["changed"], done["unchanged"], done["by_state"]) == (1, 0, {state: 1}), (
                    action,
                    state,
                )
                assert (await states(stamps, [serial]))[serial] == target
            elif state == target:
                done = await act(stamps, action, ADMIN, serials=[serial])
                assert (done["changed"], done["unchanged"]) == (0, 1), (action, state)
            else:
                refused = await act(stamps, action, ADMIN, 409, serials=[serial])
                assert refused["type"] == "/problems/stamp-state"
                assert refused["offending"] == [{"serial": serial, "state": state}], (action, state)
                assert (await states(stamps, [serial]))[serial] == state


async def test_a_batch_moves_its_stamps_in_an_allowed_state_and_counts_the_rest(
    stamps: httpx.AsyncClient,
) -> None:
    product = await stamped_product(stamps)
    batch = await generated_batch(stamps, product, quantity=6)
    serials = sorted((await states(stamps, [r.serial for r in await query(
        stamps, "SELECT serial FROM stamps.stamp WHERE batch_id = :b", b=batch["id"])])).keys())  # fmt: skip
    await act(stamps, "issue", product["officer"], serials=serials[:2])
    await act(stamps, "void", product["producer"], serials=serials[2:3])
    issued = await act(stamps, "issue", product["officer"], batch_id=batch["id"])
    assert {key: issued[key] for key in ("requested", "changed", "unchanged", "skipped", "by_state")} == {
        "requested": 6, "changed": 3, "unchanged": 2, "skipped": 1,
        "by_state": {"reserved": 3, "issued": 2, "void": 1},
    }  # fmt: skip
    assert await states(stamps, serials) == {
        **dict.fromkeys(serials, "issued"), serials[2]: "void"
    }  # fmt: skip
    row = (await query(stamps, "SELECT * FROM stamps.stamp_change WHERE id = :id", id=issued["change_id"]))[0]
    assert (row.action, row.batch_id, row.requested, row.changed, row.actor_role) == (
        "issue", uuid.UUID(batch["id"]), 6, 3, "province_officer",
    )  # fmt: skip
    items = await query(
        stamps, "SELECT * FROM stamps.stamp_change_item WHERE change_id = :id", id=issued["change_id"]
    )
    assert sorted(item.serial for item in items) == sorted(set(serials) - set(serials[:3]))
    assert {(item.from_state, item.to_state) for item in items} == {("reserved", "issued")}


async def test_the_same_request_twice_changes_nothing_the_second_time(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    batch, serials = await active_stamps(stamps, product, 4)
    first = await act(stamps, "suspend", product["officer"], serials=serials[:2], reason="Nghi giả mạo")
    second = await act(stamps, "suspend", product["officer"], serials=serials[:2], reason="Nghi giả mạo")
    assert (first["changed"], first["unchanged"], second["changed"], second["unchanged"]) == (2, 0, 0, 2)
    whole = await act(stamps, "suspend", product["officer"], batch_id=batch["id"], reason="Nghi giả mạo")
    again = await act(stamps, "suspend", product["officer"], batch_id=batch["id"], reason="Nghi giả mạo")
    assert (whole["changed"], whole["unchanged"], again["changed"], again["unchanged"]) == (2, 2, 0, 4)
    # An Idempotency-Key replays the first answer and writes nothing more.
    key = {"Idempotency-Key": "lifecycle-key-1", **product["officer"]}
    body = {"serials": serials, "reason": "Đã xác minh"}
    lifted = await stamps.post(f"{STAMPS}/unsuspend", json=body, headers=key)
    before = await changes(stamps)
    replayed = await stamps.post(f"{STAMPS}/unsuspend", json=body, headers=key)
    assert (lifted.status_code, replayed.status_code) == (200, 200)
    assert replayed.json() == lifted.json()
    assert lifted.json()["changed"] == 4
    assert replayed.headers["idempotent-replayed"] == "true"
    assert await changes(stamps) == before
    reused = await stamps.post(f"{STAMPS}/suspend", json=body, headers=key)
    assert reused.status_code == 422


async def test_a_list_is_all_or_nothing(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    _, serials = await active_stamps(stamps, product, 3)
    other = await stamped_product(stamps)
    _, theirs = await active_stamps(stamps, other, 1)
    await act(stamps, "revoke", product["officer"], serials=serials[:1])
    before = await changes(stamps)
    unknown = gs1.new_serial()
    missing = await act(
        stamps, "suspend", product["officer"], 404, serials=[serials[1], unknown], reason="Kiểm tra"
    )
    assert (missing["type"], missing["field"], missing["serial"]) == (
        "/problems/stamp-not-found",
        "body.serials[1]",
        unknown,
    )
    not_theirs = await act(stamps, "void", product["producer"], 404, serials=[serials[1], theirs[0]])
    assert not_theirs["field"] == "body.serials[1]"
    wrong_state = await act(stamps, "suspend", product["officer"], 409, serials=serials, reason="Kiểm tra")
    assert (wrong_state["offending"], wrong_state["offending_count"]) == (
        [{"serial": serials[0], "state": "revoked"}],
        1,
    )
    assert await states(stamps, serials) == {
        serials[0]: "revoked",
        serials[1]: "active",
        serials[2]: "active",
    }
    assert await changes(stamps) == before


async def test_activation_binds_the_lot_and_dates_and_needs_a_certificate_in_force(
    stamps: httpx.AsyncClient,
) -> None:
    product = await stamped_product(stamps)
    batch = await generated_batch(stamps, product, quantity=3, lot="L2407A")
    await act(stamps, "issue", product["officer"], batch_id=batch["id"])
    today = clock.today()
    dates: dict[str, Any] = {
        "production_date": today.isoformat(),
        "expiry_date": (today + timedelta(days=180)).isoformat(),
    }
    wrong_lot = await act(
        stamps, "activate", product["producer"], 422, batch_id=batch["id"], lot="L9", **dates
    )
    assert wrong_lot["errors"][0]["field"] == "body.lot"
    done = await act(stamps, "activate", product["producer"], batch_id=batch["id"], lot="L2407A", **dates)
    assert done["changed"] == 3
    listed = (await stamps.get(STAMPS, params={"batch_id": batch["id"]}, headers=product["producer"])).json()
    assert {(s["state"], s["lot"], s["production_date"], s["expiry_date"], s["activated_by"]) for s in listed["items"]} == {
        ("active", "L2407A", dates["production_date"], dates["expiry_date"], "tester")
    }  # fmt: skip
    change = (await query(stamps, "SELECT * FROM stamps.stamp_change WHERE id = :id", id=done["change_id"]))[
        0
    ]
    assert (change.lot, change.production_date.isoformat(), change.expiry_date.isoformat()) == (
        "L2407A", dates["production_date"], dates["expiry_date"],
    )  # fmt: skip

    # The certificate is revoked: stamps issued since may no longer be activated.
    later = await generated_batch(stamps, product, quantity=2)
    await act(stamps, "issue", product["officer"], batch_id=later["id"])
    certificate = (await query(
        stamps, "SELECT id FROM stamps.certificate_snapshot WHERE product_id = :p", p=product["id"]
    ))[0]  # fmt: skip
    revoked = certificate_snapshot(
        product["id"], product["entity_id"], certificate_id=str(certificate.id), version=2, status="revoked",
        revocation_ground="quality_violation: mẫu không đạt",
    )  # fmt: skip
    answer = await post_event(
        stamps, "scoring.certificate.revoked", revoked, subject=f"product/{product['id']}"
    )
    assert answer.status_code == 200, answer.text
    refused = await act(stamps, "activate", product["producer"], 409, batch_id=later["id"])
    assert (refused["type"], refused["verdict"]) == ("/problems/product-not-certified", "revoked")
    assert (await act(stamps, "void", product["producer"], batch_id=later["id"]))["changed"] == 2


async def test_a_stamp_reads_with_its_history(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    batch, serials = await active_stamps(stamps, product, 2, lot="L1")
    await act(stamps, "suspend", product["officer"], serials=serials[:1], reason="Quét ở hai tỉnh")
    read = await stamps.get(f"{STAMPS}/{serials[0]}", headers=product["producer"])
    assert read.status_code == 200, read.text
    stamp = read.json()
    assert (stamp["state"], stamp["batch_id"], stamp["product_id"], stamp["lot"], stamp["state_reason"]) == (
        "suspended", batch["id"], product["id"], "L1", "Quét ở hai tỉnh",
    )  # fmt: skip
    assert stamp["activated_at"] is not None
    assert stamp["expiry_date"] is not None
    assert [(h["action"], h["from_state"], h["to_state"], h["actor_role"]) for h in stamp["history"]] == [
        ("issue", "reserved", "issued", "province_officer"),
        ("activate", "issued", "active", "producer"),
        ("suspend", "active", "suspended", "province_officer"),
    ]
    assert stamp["history"][2]["reason"] == "Quét ở hai tỉnh"
    last = (await query(stamps, "SELECT last_change_id FROM stamps.stamp WHERE serial = :s", s=serials[0]))[0]
    assert last.last_change_id == stamp["history"][2]["change_id"]


async def test_listing_pages_and_filters_what_the_caller_sees(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    batch, serials = await active_stamps(stamps, product, 5)
    await act(stamps, "void", product["producer"], serials=serials[:2])
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {
            "batch_id": batch["id"],
            "limit": 2,
            **({"cursor": cursor} if cursor else {}),
        }
        page = (await stamps.get(STAMPS, params=params, headers=product["officer"])).json()
        seen += [item["serial"] for item in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == sorted(serials)
    voided = (await stamps.get(STAMPS, params={"state": "void"}, headers=product["producer"])).json()
    assert sorted(item["serial"] for item in voided["items"]) == sorted(serials[:2])
    for headers in (auth("producer", str(uuid.uuid4())), auth("province_officer", "01"), auth("partner", "p"),
                    auth("commune_officer", "07090"), auth("producer", "not-a-uuid"), auth("province_officer")):  # fmt: skip
        assert (await stamps.get(STAMPS, headers=headers)).json()["items"] == [], headers
    assert (await stamps.get(STAMPS)).status_code == 401
    bad = await stamps.get(STAMPS, params={"state": "lost"}, headers=ADMIN)
    assert bad.status_code == 422


async def test_who_may_do_what(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    other = await stamped_product(stamps, province="01")
    groups = await in_every_state(stamps, product, 1)
    group = groups[0]
    officer, producer = product["officer"], product["producer"]
    strangers = {
        "another producer": other["producer"], "another province's officer": other["officer"],
        "a commune officer": auth("commune_officer", "07090"), "a partner": auth("partner", "p"),
        "national": auth("national", "vn"), "a council member": auth("council_member", str(uuid.uuid4())),
        "a service": auth("service", "registry"), "a producer without a scope": auth("producer"),
    }  # fmt: skip
    allowed = {
        "issue": (officer,), "activate": (producer,), "suspend": (officer,), "unsuspend": (officer,),
        "revoke": (officer,), "void": (producer, officer),
    }  # fmt: skip
    for action, (sources, _) in TRANSITIONS.items():
        serial = group[next(iter(sorted(sources)))]
        for who, headers in strangers.items():
            for body in ({"serials": [serial]}, {"batch_id": (await stamp_batch(stamps, serial))}):
                refused = await stamps.post(
                    f"{STAMPS}/{action}", json={**body, "reason": REASON}, headers=headers
                )
                assert refused.status_code == 404, (action, who, body, refused.text)
        for headers in (officer, producer):
            if headers not in allowed[action]:
                answer = await stamps.post(
                    f"{STAMPS}/{action}", json={"serials": [serial], "reason": REASON}, headers=headers
                )
                assert answer.status_code == 403, (action, headers is officer)
        assert (
            await stamps.post(f"{STAMPS}/{action}", json={"serials": [serial], "reason": REASON})
        ).status_code == 401
    # The allowed ones, on fresh stamps in a state each action starts from.
    fresh = (await in_every_state(stamps, product, 1))[0]
    for action, headers in (("suspend", officer), ("unsuspend", officer), ("revoke", officer)):
        assert (await act(stamps, action, headers, serials=[fresh["active"]]))["changed"] == 1
    assert (await act(stamps, "void", producer, serials=[fresh["issued"]]))["changed"] == 1
    assert (await act(stamps, "void", officer, serials=[fresh["reserved"]]))["changed"] == 1
    # Reading one stamp.
    url = f"{STAMPS}/{group['active']}"
    for headers, expected in [
        ({}, 401), (producer, 200), (officer, 200), (ADMIN, 200), *((h, 404) for h in strangers.values()),
    ]:  # fmt: skip
        assert (await stamps.get(url, headers=headers)).status_code == expected, headers


async def stamp_batch(stamps: httpx.AsyncClient, serial: str) -> str:
    return str(
        (await query(stamps, "SELECT batch_id FROM stamps.stamp WHERE serial = :s", s=serial))[0].batch_id
    )


async def test_a_batch_is_issued_once_generated_and_by_its_own_officer_only(
    stamps: httpx.AsyncClient,
) -> None:
    product = await stamped_product(stamps)
    requested = await stamps.post(
        "/v1/stamp-batches", json={"product_id": product["id"], "quantity": 3}, headers=product["producer"]
    )
    batch_id = requested.json()["id"]
    refused = await act(stamps, "issue", product["officer"], 409, batch_id=batch_id)
    assert (refused["type"], refused["current_status"]) == ("/problems/stamp-batch-state", "requested")
    unknown = await act(stamps, "issue", ADMIN, 404, batch_id=str(uuid.uuid4()))
    assert (unknown["type"], unknown["field"]) == ("/problems/stamp-batch-not-found", "body.batch_id")


async def test_bad_input_names_its_field(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    batch = await generated_batch(stamps, product, quantity=1)
    good = gs1.new_serial()
    today = clock.today()
    for action, body, field in (
        ("issue", {"serials": [good, good[:-1] + ("2" if good[-1] != "2" else "3")]}, "body.serials[1]"),
        ("issue", {"serials": ["abc"]}, "body.serials[0]"),
        ("issue", {"serials": [good], "batch_id": batch["id"]}, "body.serials"),
        ("issue", {}, "body.serials"),
        ("issue", {"serials": []}, "body.serials"),
        ("issue", {"serials": [good] * 10_001}, "body.serials"),
        ("suspend", {"serials": [good]}, "body.reason"),
        ("void", {"batch_id": batch["id"], "reason": ""}, "body.reason"),
        ("issue", {"batch_id": batch["id"], "lot": "L1"}, "body.lot"),
        ("activate", {"batch_id": batch["id"], "production_date": today.isoformat(),
                      "expiry_date": (today - timedelta(days=1)).isoformat()}, "body.expiry_date"),
        ("activate", {"batch_id": batch["id"], "production_date": (today + timedelta(days=2)).isoformat()},
         "body.production_date"),
        ("activate", {"batch_id": batch["id"], "lot": "lô 1"}, "body.lot"),
        ("issue", {"batch_id": "not-a-uuid"}, "body.batch_id"),
        ("issue", {"batch_id": batch["id"], "extra": 1}, "body.extra"),
        ("scrap", {"batch_id": batch["id"]}, "path.action"),
    ):  # fmt: skip
        answer = await stamps.post(f"{STAMPS}/{action}", json=body, headers=ADMIN)
        assert answer.status_code == 422, (action, body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert any(error["field"].startswith(field) for error in answer.json()["errors"]), (
            field,
            answer.json(),
        )
    malformed = await stamps.get(f"{STAMPS}/not-a-serial", headers=ADMIN)
    assert (malformed.status_code, malformed.json()["errors"][0]["field"]) == (422, "path.serial")
    assert (await stamps.get(f"{STAMPS}/{good}", headers=ADMIN)).status_code == 404
    tomorrow = await act(stamps, "issue", ADMIN, batch_id=batch["id"])
    assert tomorrow["changed"] == 1
    made: dict[str, Any] = {"production_date": (today + timedelta(days=1)).isoformat()}
    assert (await act(stamps, "activate", ADMIN, batch_id=batch["id"], **made))["changed"] == 1


async def test_the_anomaly_detector_suspends_active_stamps_only(stamps: httpx.AsyncClient) -> None:
    product = await stamped_product(stamps)
    _, serials = await active_stamps(stamps, product, 3)
    await act(stamps, "revoke", product["officer"], serials=serials[:1])
    app = stamps._transport.app  # type: ignore[attr-defined]
    with clock.frozen_at(datetime(2026, 12, 2, 3, 0, tzinfo=UTC)):
        async with app.state.db.sessionmaker.begin() as session:
            moved = await service.suspend_automatically(
                session,
                serials=[*serials, gs1.new_serial()],
                reason="R1: quét ở Hà Nội và TP.HCM trong 1 giờ",
            )
        async with app.state.db.sessionmaker.begin() as session:
            assert await service.suspend_automatically(session, serials=serials, reason="R1") == 0
            assert await service.suspend_automatically(session, serials=[], reason="R1") == 0
    assert moved == 2
    assert await states(stamps, serials) == {
        serials[0]: "revoked",
        serials[1]: "suspended",
        serials[2]: "suspended",
    }
    change = (
        await query(stamps, "SELECT * FROM stamps.stamp_change WHERE actor = 'system:anomalies' ORDER BY id")
    )[0]
    assert (change.action, change.actor_role, change.requested, change.changed) == ("suspend", "system", 4, 2)
    assert change.created_at == datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


async def test_a_list_may_span_batches_and_counts_each_serial_once(stamps: httpx.AsyncClient) -> None:
    first, second = await stamped_product(stamps), await stamped_product(stamps, province="01")
    _, ours = await active_stamps(stamps, first, 2)
    _, theirs = await active_stamps(stamps, second, 1)
    listed = [ours[0], theirs[0], ours[1], ours[0]]
    refused = await act(stamps, "revoke", first["officer"], 404, serials=listed)
    assert refused["field"] == "body.serials[1]"
    done = await act(stamps, "revoke", ADMIN, serials=listed)
    assert (done["requested"], done["changed"], done["by_state"]) == (3, 3, {"active": 3})
    change = (await query(stamps, "SELECT * FROM stamps.stamp_change WHERE id = :id", id=done["change_id"]))[
        0
    ]
    assert (change.batch_id, change.requested, change.changed, change.actor_role) == (None, 3, 3, "admin")
    assert set((await states(stamps, [*ours, *theirs])).values()) == {"revoked"}
    producer_issues = await stamps.post(
        f"{STAMPS}/issue", json={"batch_id": (await generated_batch(stamps, first, quantity=1))["id"]},
        headers=first["producer"],
    )  # fmt: skip
    assert producer_issues.status_code == 403
