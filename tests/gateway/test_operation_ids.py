"""Operation ids of the gateway's merged document: partners' generated clients name their methods after them."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from shared.app import operation_id
from tests.support.processes import RunningProcess

# Every operation of the merged document. Changing a name here changes partners' generated clients:
# rename a handler only on purpose, and update this list with it.
EXPECTED = {
    ("get", "/healthz"): "healthz",
    ("get", "/readyz"): "readyz",
    ("get", "/v1/admin-units"): "admin_units_list",
    ("get", "/v1/admin-units/{code}"): "admin_units_read",
    ("get", "/v1/admin-units/{code}/successors"): "admin_units_successors",
    ("post", "/v1/imports"): "imports_create",
    ("get", "/v1/imports"): "imports_list",
    ("get", "/v1/imports/{job_id}"): "imports_read",
    ("get", "/v1/entities/export"): "entities_export",
    ("get", "/v1/products/export"): "products_export",
    ("post", "/v1/entities"): "entities_create",
    ("get", "/v1/entities"): "entities_list",
    ("get", "/v1/entities/{entity_id}"): "entities_read",
    ("patch", "/v1/entities/{entity_id}"): "entities_update",
    ("post", "/v1/products"): "products_create",
    ("get", "/v1/products"): "products_list",
    ("get", "/v1/products/{product_id}"): "products_read",
    ("get", "/v1/products/{product_id}/snapshot"): "products_snapshot",
    ("patch", "/v1/products/{product_id}"): "products_update",
    ("post", "/v1/products/{product_id}/status"): "products_change_status",
    ("get", "/v1/products/{product_id}/history"): "products_history",
    ("post", "/v1/products/{product_id}/images"): "products_add_image",
    ("get", "/v1/products/{product_id}/images/{sha256}"): "products_read_image",
    ("post", "/v1/ideas"): "ideas_create",
    ("get", "/v1/ideas"): "ideas_list",
    ("get", "/v1/ideas/{idea_id}"): "ideas_read",
    ("patch", "/v1/ideas/{idea_id}"): "ideas_update",
    ("post", "/v1/ideas/{idea_id}/submit"): "ideas_submit",
    ("post", "/v1/ideas/{idea_id}/approve"): "ideas_approve",
    ("post", "/v1/ideas/{idea_id}/return"): "ideas_return",
    ("post", "/v1/business-plans"): "business_plans_create",
    ("get", "/v1/business-plans"): "business_plans_list",
    ("get", "/v1/business-plans/{plan_id}"): "business_plans_read",
    ("patch", "/v1/business-plans/{plan_id}"): "business_plans_update",
    ("post", "/v1/business-plans/{plan_id}/submit"): "business_plans_submit",
    ("post", "/v1/business-plans/{plan_id}/approve"): "business_plans_approve",
    ("post", "/v1/business-plans/{plan_id}/return"): "business_plans_return",
    ("get", "/v1/catalogue"): "catalogue_search",
    ("get", "/v1/catalogue/{product_id}"): "catalogue_read",
    ("get", "/v1/stats/products"): "stats_products",
    ("get", "/v1/stats/entities"): "stats_entities",
    ("post", "/v1/stamp-batches"): "stamp_batches_request",
    ("get", "/v1/stamp-batches"): "stamp_batches_list",
    ("get", "/v1/stamp-batches/{batch_id}"): "stamp_batches_read",
    ("post", "/v1/stamp-batches/{batch_id}/approve"): "stamp_batches_approve",
    ("post", "/v1/stamp-batches/{batch_id}/reject"): "stamp_batches_reject",
    ("get", "/v1/stamp-batches/{batch_id}/serials.csv"): "stamp_batches_csv",
    ("get", "/v1/stamp-batches/{batch_id}/serials.zip"): "stamp_batches_zip",
    ("get", "/v1/stamp-batches/{batch_id}/labels.pdf"): "stamp_batches_labels",
    ("get", "/v1/stamps/{serial}/qr.svg"): "stamps_qr_svg",
    ("get", "/v1/stamps/{serial}/qr.png"): "stamps_qr_png",
    ("get", "/v1/stamp-statistics"): "stamp_statistics_read",
    ("get", "/v1/stamps"): "stamps_list",
    ("get", "/v1/stamps/{serial}"): "stamps_read",
    ("post", "/v1/stamps/{action}"): "stamps_change",
    ("get", "/v1/anomalies"): "anomalies_list",
    ("get", "/v1/anomalies/{anomaly_id}"): "anomalies_read",
    ("post", "/v1/anomalies/{anomaly_id}/resolve"): "anomalies_resolve",
    ("post", "/epcis/capture"): "epcis_capture",
    ("get", "/epcis/capture"): "epcis_capture_jobs",
    ("options", "/epcis/capture"): "epcis_capture_discovery",
    ("options", "/epcis/capture/{capture_id}"): "epcis_capture_job_discovery",
    ("options", "/epcis/events"): "epcis_events_discovery",
    ("options", "/epcis/events/{event_id}"): "epcis_event_discovery",
    ("get", "/epcis/capture/{capture_id}"): "epcis_capture_job",
    ("post", "/epcis/events"): "epcis_events_capture",
    ("get", "/epcis/events"): "epcis_events_query",
    ("get", "/epcis/events/{event_id}"): "epcis_event_read",
    ("get", "/epcis/export"): "epcis_export",
    ("get", "/v1/stamps/{serial}/trace"): "stamp_trace_read",
    ("get", "/v1/trace"): "lot_trace_read",
    ("post", "/v1/locations"): "locations_create",
    ("get", "/v1/locations"): "locations_list",
    ("get", "/v1/locations/places"): "locations_places",
    ("get", "/v1/locations/{location_id}"): "locations_read",
    ("patch", "/v1/locations/{location_id}"): "locations_update",
    ("get", "/loc/{location_id}"): "location_place",
    ("get", "/01/{rest}"): "resolve",
    ("get", "/v/{code}"): "resolve_short",
    ("get", "/.well-known/gs1resolver"): "resolver_description",
    ("get", "/s/{token}"): "scan_page",
    ("post", "/s/{token}/geo"): "scan_locate",
    ("post", "/v1/counterfeit-reports"): "reports_create",
    ("get", "/v1/counterfeit-reports"): "reports_list",
    ("get", "/v1/counterfeit-reports/{report_id}"): "reports_read",
    ("get", "/v1/counterfeit-reports/{report_id}/photo"): "reports_photo",
    ("post", "/v1/counterfeit-reports/{report_id}/resolve"): "reports_resolve",
    ("get", "/v1/outbox/registry/deliveries"): "outbox_registry_deliveries",
    ("post", "/v1/outbox/registry/deliveries/replay"): "outbox_registry_replay",
    ("post", "/v1/webhooks"): "webhooks_create",
    ("get", "/v1/webhooks"): "webhooks_list",
    ("get", "/v1/webhooks/{subscription_id}"): "webhooks_read",
    ("delete", "/v1/webhooks/{subscription_id}"): "webhooks_unsubscribe",
    ("post", "/v1/webhooks/{subscription_id}/rotate-secret"): "webhooks_rotate_secret",
    ("get", "/v1/webhooks/{subscription_id}/deliveries"): "webhooks_deliveries",
    ("get", "/v1/outbox/scoring/deliveries"): "outbox_scoring_deliveries",
    ("post", "/v1/outbox/scoring/deliveries/replay"): "outbox_scoring_replay",
    ("get", "/v1/outbox/stamps/deliveries"): "outbox_stamps_deliveries",
    ("post", "/v1/outbox/stamps/deliveries/replay"): "outbox_stamps_replay",
    ("post", "/v1/products/{product_id}/change-requests"): "products_request_change",
    ("post", "/v1/entities/{entity_id}/change-requests"): "entities_request_change",
    ("get", "/v1/change-requests"): "change_requests_list",
    ("get", "/v1/change-requests/{request_id}"): "change_requests_read",
    ("post", "/v1/change-requests/{request_id}/approve"): "change_requests_approve",
    ("post", "/v1/change-requests/{request_id}/reject"): "change_requests_reject",
    ("get", "/v1/criteria-versions"): "criteria_versions_list",
    ("get", "/v1/criteria-versions/{slug}"): "criteria_versions_read",
    ("get", "/v1/product-sets"): "product_sets_list",
    ("get", "/v1/score-sheets"): "score_sheets_list",
    ("post", "/v1/score-sheets"): "score_sheets_create",
    ("post", "/v1/score-sheets/import"): "score_sheets_import",
    ("get", "/v1/score-sheets/{sheet_id}"): "score_sheets_read",
    ("post", "/v1/score-sheets/{sheet_id}/publish"): "score_sheets_publish",
    ("post", "/v1/councils"): "councils_create",
    ("get", "/v1/councils"): "councils_list",
    ("get", "/v1/councils/{council_id}"): "councils_read",
    ("patch", "/v1/councils/{council_id}"): "councils_update",
    ("post", "/v1/councils/{council_id}/members"): "councils_add_member",
    ("get", "/v1/councils/{council_id}/members"): "councils_members",
    ("post", "/v1/rounds"): "rounds_create",
    ("get", "/v1/rounds"): "rounds_list",
    ("get", "/v1/rounds/{round_id}"): "rounds_read",
    ("post", "/v1/rounds/{round_id}/close"): "rounds_close",
    ("post", "/v1/applications"): "applications_create",
    ("get", "/v1/applications"): "applications_list",
    ("get", "/v1/applications/{application_id}"): "applications_read",
    ("get", "/v1/applications/{application_id}/snapshot"): "applications_snapshot",
    ("post", "/v1/applications/{application_id}/submit"): "applications_submit",
    ("post", "/v1/applications/{application_id}/precheck"): "applications_precheck",
    ("post", "/v1/applications/{application_id}/completeness"): "applications_completeness",
    ("post", "/v1/applications/{application_id}/assign"): "applications_assign",
    ("post", "/v1/applications/{application_id}/start-scoring"): "applications_start_scoring",
    ("post", "/v1/applications/{application_id}/propose-central"): "applications_propose_central",
    ("post", "/v1/applications/{application_id}/assign-central"): "applications_assign_central",
    ("post", "/v1/applications/{application_id}/close-scoring"): "applications_close_scoring",
    ("put", "/v1/applications/{application_id}/self-assessment"): "applications_self_assess",
    ("get", "/v1/applications/{application_id}/self-assessment"): "applications_self_assessment",
    ("post", "/v1/applications/{application_id}/scorecards"): "applications_score",
    ("get", "/v1/applications/{application_id}/scorecards"): "applications_scorecards",
    ("get", "/v1/applications/{application_id}/results"): "applications_results",
    ("post", "/v1/applications/{application_id}/attachments"): "applications_attach",
    ("get", "/v1/applications/{application_id}/attachments"): "applications_attachments",
    ("get", "/v1/applications/{application_id}/attachments/{sha256}"): "applications_attachment",
    ("get", "/v1/results/stats"): "results_stats",
    ("get", "/v1/certificates/stats"): "certificates_stats",
    ("post", "/v1/certificates"): "certificates_issue",
    ("get", "/v1/certificates"): "certificates_list",
    ("get", "/v1/certificates/lookup"): "certificates_lookup",
    ("get", "/v1/certificates/{certificate_id}"): "certificates_read",
    ("post", "/v1/certificates/{certificate_id}/revoke"): "certificates_revoke",
    ("get", "/v1/audit/{subject_id}"): "audit_list",
}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
MAX_LENGTH = 32


@pytest.fixture(scope="module")
def merged_operations(running_processes: dict[str, RunningProcess]) -> dict[tuple[str, str], str]:
    """(method, path) → operation id of every operation in the gateway's merged document."""
    document: dict[str, Any] = httpx.get(
        f"{running_processes['gateway'].url}/openapi.json", timeout=30
    ).json()
    assert "x-missing-upstreams" not in document["info"]
    return {
        (method, path): operation["operationId"]
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


@pytest.mark.e2e
def test_operation_ids_are_unique_short_names(merged_operations: dict[tuple[str, str], str]) -> None:
    ids = list(merged_operations.values())
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for (method, _), name in merged_operations.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), name
        assert len(name) <= MAX_LENGTH, name
        assert "_v1_" not in name, name
        assert not name.endswith(f"_{method}"), name


@pytest.mark.e2e
def test_operation_ids_are_the_listed_ones(merged_operations: dict[tuple[str, str], str]) -> None:
    assert merged_operations == EXPECTED


def test_a_handler_name_that_is_no_method_name_is_refused() -> None:
    def Search_Catalogue() -> None:
        """A handler with a name no generated client should carry."""

    with pytest.raises(ValueError, match="Search_Catalogue"):
        operation_id(APIRoute("/v1/catalogue", Search_Catalogue))
    assert operation_id(APIRoute("/v1/catalogue", Search_Catalogue, name="catalogue_search")) == (
        "catalogue_search"
    )
