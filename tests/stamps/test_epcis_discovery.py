"""The EPCIS interface's discovery (OPTIONS, as the REST binding's openapi.yaml describes it) and its 401 and
403 in the binding's problem shape (``epcisException:SecurityException``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import quote

import httpx
import pytest

from services.stamps.config import EpcisSettings
from shared import clock
from tests.builders import ADMIN, SCORING
from tests.conftest import asgi_client, auth, stamps_app
from tests.support.database import TestDatabase

pytestmark = pytest.mark.commits  # the app's own pools commit
MAX_BYTES, MAX_EVENTS = 64 * 1024, 200
VERSIONS = {
    "gs1-epcis-version": "2.0.0", "gs1-epcis-min": "2.0.0", "gs1-epcis-max": "2.0.0",
    "gs1-cbv-version": "2.0.0", "gs1-cbv-min": "2.0.0", "gs1-cbv-max": "2.0.0", "gs1-epc-format": "Never_Translates",
}  # fmt: skip
LIMITS = {
    "gs1-epcis-capture-limit": str(MAX_EVENTS), "gs1-epcis-capture-file-size-limit": str(MAX_BYTES),
    "gs1-capture-error-behaviour": "all",
}  # fmt: skip
EVENT_ID = "urn:uuid:4d6a5c2e-8f1b-4e6a-9c3d-2b7e1f0a9c55"
JOB_ID = "0b9f3c1e-5a2d-4c7b-8e6f-1d2a3b4c5d6e"
# path → the methods it answers, and whether events are captured there (then the limits are announced)
RESOURCES = [
    ("/epcis/capture", "OPTIONS, POST, GET", True),
    ("/epcis/events", "OPTIONS, GET, POST", True),
    (f"/epcis/capture/{JOB_ID}", "OPTIONS, GET", False),
    (f"/epcis/events/{quote(EVENT_ID, safe='')}", "OPTIONS, GET", False),
]
EVERY_ROLE = [
    {}, ADMIN, SCORING, auth("province_officer", "22"), auth("commune_officer", "07090"), auth("national"),
    auth("partner", "p-1"), auth("council_member", JOB_ID), auth("producer", JOB_ID),
]  # fmt: skip


@pytest.fixture
async def stamps(database: TestDatabase) -> AsyncIterator[httpx.AsyncClient]:
    app = stamps_app(database, epcis=EpcisSettings(max_document_bytes=MAX_BYTES, max_events=MAX_EVENTS))
    async for client in asgi_client(app):
        yield client


def _event() -> dict[str, object]:
    return {
        "type": "ObjectEvent", "eventTime": (clock.now() - timedelta(hours=1)).isoformat(),
        "eventTimeZoneOffset": "+07:00", "action": "OBSERVE", "epcList": ["urn:epc:id:sgtin:0614141.107346.1"],
    }  # fmt: skip


# Discovery


@pytest.mark.parametrize(("path", "allow", "captures"), RESOURCES)
async def test_options_names_the_methods_versions_and_capture_limits(
    stamps: httpx.AsyncClient, path: str, allow: str, captures: bool
) -> None:
    answer = await stamps.options(path)
    assert answer.status_code == 204, answer.text
    assert answer.content == b""
    assert answer.headers["allow"] == allow
    for name, value in (VERSIONS | (LIMITS if captures else {})).items():
        assert answer.headers[name] == value, name
    if not captures:
        assert not {name for name in LIMITS if name in answer.headers}


@pytest.mark.parametrize("headers", EVERY_ROLE)
async def test_every_role_and_anonymous_callers_may_discover(
    stamps: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for path, allow, _ in RESOURCES:
        answer = await stamps.options(path, headers=headers)
        assert (answer.status_code, answer.headers["allow"]) == (204, allow), path


async def test_a_browsers_preflight_is_answered(stamps: httpx.AsyncClient) -> None:
    preflight = {
        "Origin": "https://app.example.vn", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }  # fmt: skip
    answer = await stamps.options("/epcis/capture", headers=preflight)
    assert answer.status_code == 204
    assert answer.headers["allow"] == "OPTIONS, POST, GET"


async def test_options_of_a_capture_job_that_is_not_an_id_is_422(stamps: httpx.AsyncClient) -> None:
    answer = await stamps.options("/epcis/capture/not-a-job")
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"


# Security problems in the binding's shape


def _is_security_problem(answer: httpx.Response, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    title = {401: "Unauthorised request", 403: "Access to resource forbidden"}[status]
    assert (body["type"], body["title"], body["status"]) == (
        "epcisException:SecurityException",
        title,
        status,
    )


EPCIS_READS = ["/epcis/events", f"/epcis/events/{quote(EVENT_ID, safe='')}", "/epcis/export?province_code=22",
               "/epcis/capture", f"/epcis/capture/{JOB_ID}"]  # fmt: skip


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not.a.token"}, {"Authorization": "Basic YWRtaW46YWRtaW4="}],
    ids=["no token", "invalid token", "not a bearer token"],
)
async def test_no_or_a_bad_token_is_a_security_exception_401(
    stamps: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for path in EPCIS_READS:
        _is_security_problem(await stamps.get(path, headers=headers), 401)
    for path in ("/epcis/capture", "/epcis/events"):
        answer = await stamps.post(path, json=_event(), headers=headers)
        _is_security_problem(answer, 401)
        assert answer.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("headers", [auth("national"), auth("province_officer", "22"), auth("producer")])
async def test_a_role_that_may_not_capture_gets_a_security_exception_403(
    stamps: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for path in ("/epcis/capture", "/epcis/events"):
        body = _event() if path == "/epcis/events" else {"type": "EPCISDocument", "epcisBody": {}}
        _is_security_problem(await stamps.post(path, json=body, headers=headers), 403)


async def test_other_routes_keep_the_platforms_own_problem_types(stamps: httpx.AsyncClient) -> None:
    answer = await stamps.get("/v1/locations")
    assert answer.status_code == 401
    assert (answer.json()["type"], answer.json()["title"]) == ("/problems/unauthenticated", "Unauthenticated")
