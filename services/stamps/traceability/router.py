"""HTTP routes of EPCIS queries (/epcis/events), the export (/epcis/export) and the trace view."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from services.stamps.traceability import service
from services.stamps.traceability.schemas import Trace
from shared.db import SessionDep
from shared.schemas import problems
from shared.security.dependencies import PrincipalDep

router = APIRouter(tags=["EPCIS queries and trace"])

# The JSON-LD bodies: the standard's media types; a plain JSON client reads them as JSON.
_DOCUMENT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An EPCIS 2.0 JSON-LD document",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


def _query(*parameters: tuple[str, str]) -> dict[str, Any]:
    """OpenAPI entries of query parameters the service reads itself (so that an unknown one is refused)."""
    return {
        "parameters": [
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": text,
            }
            for name, text in parameters
        ]
    }


# The versions every answer of an EPCIS 2.0 REST interface names (the binding's response headers).
GS1_VERSIONS = {"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"}


def _json_ld(body: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(body, media_type="application/json", headers={**GS1_VERSIONS, **(headers or {})})


@router.get(
    "/epcis/events", response_class=Response, responses=problems(400, 401) | _DOCUMENT,
    openapi_extra=_query(
        ("eventType", "ObjectEvent|AggregationEvent|…"), ("GE_eventTime", "ISO 8601 with offset"),
        ("LT_eventTime", "ISO 8601 with offset"), ("GE_recordTime", "ISO 8601 with offset"),
        ("EQ_action", "ADD|OBSERVE|DELETE"), ("EQ_bizStep", "CBV words or URIs, |-separated"),
        ("EQ_disposition", "CBV words or URIs, |-separated"), ("EQ_readPoint", "location URIs (SGLN URN or Digital Link)"),
        ("EQ_bizLocation", "location URIs (SGLN URN or Digital Link)"),
        ("MATCH_epc", "EPCs (Digital Link or EPC URN) in epcList or childEPCs"),
        ("MATCH_anyEPC", "EPCs in any role (parentID, inputs, outputs too)"),
        ("MATCH_epcClass", "classes (lgtin URN, Digital Link with lot) in quantity lists"),
        ("perPage", "1 to 1000, default 30"), ("nextPageToken", "from the Link header"),
    ),
)  # fmt: skip
async def epcis_events_query(request: Request, session: SessionDep, principal: PrincipalDep) -> Response:
    """EPCIS 2.0 SimpleEventQuery over the events the caller may read, as an EPCISQueryDocument; paged by
    ``perPage`` and ``nextPageToken`` (the next page's address in the ``Link`` header)."""
    page = await service.query_events(session, principal=principal, params=request.query_params.multi_items())
    headers = {}
    if page.next_page_token is not None:
        following = request.url.include_query_params(nextPageToken=page.next_page_token)
        headers["Link"] = f'<{following}>; rel="next"'
    return _json_ld(service.query_document(page.events), headers)


@router.get(
    "/epcis/events/{event_id:path}", response_class=Response, responses=problems(401, 404) | _DOCUMENT
)
async def epcis_event_read(
    event_id: Annotated[str, Path(description="The eventID, URL-encoded")], session: SessionDep,
    principal: PrincipalDep,
) -> Response:  # fmt: skip
    """One event by its eventID (a producer its own, an officer their province's, the national client all)."""
    return _json_ld((await service.get_event(session, principal=principal, event_id=event_id)).encode())


@router.get(
    "/epcis/export", response_class=Response, responses=problems(400, 401, 404) | _DOCUMENT,
    openapi_extra=_query(
        ("product_id", "Events naming this product's stamps, lots or class (give this or province_code)"),
        ("province_code", "Events of this province (2 digits)"),
        ("GE_eventTime", "From (ISO 8601 with offset)"),
        ("LT_eventTime", "Before (ISO 8601 with offset)"),
    ),
)  # fmt: skip
async def epcis_export(request: Request, session: SessionDep, principal: PrincipalDep) -> Response:
    """A product's or a province's events for a period as one EPCISDocument, streamed (same readers as queries)."""
    chunks = await service.export_events(
        session, principal=principal, params=request.query_params.multi_items(), database=request.app.state.db
    )
    return StreamingResponse(
        chunks,
        media_type="application/json",
        headers={**GS1_VERSIONS, "Content-Disposition": 'attachment; filename="epcis.json"'},
    )


@router.get("/v1/stamps/{serial}/trace", response_model=Trace, responses=problems(404))
async def stamp_trace_read(serial: str, session: SessionDep) -> Any:
    """The journey of a stamp, in time order (public: steps, times and places; nothing internal)."""
    return await service.stamp_trace(session, serial=serial)


@router.get("/v1/trace", response_model=Trace, responses=problems(401))
async def lot_trace_read(
    session: SessionDep, principal: PrincipalDep,
    gtin: Annotated[str, Query(description="The product's GTIN")],
    lot: Annotated[str, Query(description="The lot (AI 10)")],
) -> Any:  # fmt: skip
    """The chain of a lot among the events the caller may read, in time order."""
    return await service.lot_trace(session, principal=principal, gtin=gtin, lot=lot)
