"""Loading the criteria reference data into a database: versions, product sets and the generic sheets.

Migration 0003 calls ``load_reference`` on its own connection, so every database has the five
versions, their 26 product sets each (from ``shared/reference/ocop_classification.json``, the file
the registry's classification reads) and one published generic sheet per version. Loading again
changes nothing: versions and sets are upserted, and a generic sheet is added only when its content
(checksum) is new, as the version's next ``sheet_version``. Sheet, node and option ids are derived
from the content, so a shipped sheet has the same ids in every database.
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from sqlalchemy import Connection

from services.scoring.criteria.generic_sheets import generic_nodes
from services.scoring.criteria.repository import ReferenceWriter
from services.scoring.criteria.validation import check_nodes, checksum, in_tree_order
from services.scoring.criteria.versions import VERSIONS

# The namespace of the ids of shipped sheets (uuid5 of the sheet's checksum and a node's code).
GENERIC_NAMESPACE = uuid.UUID("6b1f3c1e-2f5d-4f0e-9a55-0c0c0a26f2a6")


def version_rows() -> list[dict[str, Any]]:
    """The criteria_version rows."""
    return [
        {"code": version.code, "slug": version.slug, "legal_ref": version.legal_ref,
         "in_force_from": version.in_force_from, "classification": version.classification}
        for version in VERSIONS.values()
    ]  # fmt: skip


def product_set_rows() -> list[dict[str, Any]]:
    """The product_set rows: every version's 26 sets with their group and sector."""
    return [
        {"criteria_version": version.code, "number": product_set.number, "name": product_set.name,
         "group_key": product_set.group_key, "group_name": product_set.group_name,
         "sector_key": product_set.sector_key, "sector_name": product_set.sector_name}
        for version in VERSIONS.values()
        for product_set in version.product_sets
    ]  # fmt: skip


def load_reference(connection: Connection) -> None:
    """Write the versions, product sets and any generic sheet not yet loaded (idempotent)."""
    writer = ReferenceWriter(connection)
    writer.upsert("criteria_version", version_rows(), ["code"])
    writer.upsert("product_set", product_set_rows(), ["criteria_version", "number"])
    for code, version in VERSIONS.items():
        nodes = in_tree_order(generic_nodes(code))
        errors = check_nodes(version, nodes, where=f"generic[{code}]")
        if errors:
            raise ValueError(f"the generic sheet of {code} is invalid: {errors}")
        digest = checksum(code, None, nodes)
        if digest in writer.generic_checksums(code):
            continue
        sheet_id = uuid.uuid5(GENERIC_NAMESPACE, digest)
        writer.insert_sheet(
            {"id": sheet_id, "criteria_version": code, "product_set": None,
             "sheet_version": writer.next_generic_version(code), "source": "generic", "status": "published",
             "used": False, "imported_by": None, "province_code": None, "checksum": digest},
            nodes,
            partial(uuid.uuid5, sheet_id),
        )  # fmt: skip
