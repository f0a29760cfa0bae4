"""Criteria rules: reading versions, product sets and sheets; importing and publishing sheets; pinning a sheet.

Versions, product sets and published sheets are national reference data: anyone reads them, with or
without a token. Admins and province officers import sheets (a province officer's carry its province);
an import is validated whole (every fault at once) and stored as a **draft** with the next
``sheet_version`` of its version and set; ``publish_sheet`` makes it the sheet new applications pin.
Drafts are seen only by admins and the officers of their province. A sheet is never edited: a
changed sheet is a new import, and an import identical to the latest of its version, set and
province is refused (409). Every import and publication is in the audit trail.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import policies
from services.scoring.audit import service as audit
from services.scoring.criteria import versions, workbook
from services.scoring.criteria.arithmetic import Node, Option, SheetTree
from services.scoring.criteria.errors import (
    CriteriaVersionNotFound,
    NoPublishedSheet,
    ScoreSheetInvalid,
    ScoreSheetNotDraft,
    ScoreSheetNotFound,
    ScoreSheetUnchanged,
    WorkbookRefused,
)
from services.scoring.criteria.models import ProductSet, ScoreSheet
from services.scoring.criteria.repository import (
    CriteriaVersionRepository,
    ProductSetRepository,
    ScoreSheetRepository,
    SheetFilter,
)
from services.scoring.criteria.schemas import NodeIn, ScoreSheetCreate
from services.scoring.criteria.validation import NodeDraft, OptionDraft, check_nodes, checksum, in_tree_order
from services.scoring.criteria.versions import CriteriaVersion
from shared.errors import InvalidField
from shared.files import HostileFile
from shared.pagination import KeysetPage, decode_cursor
from shared.security.dependencies import Forbidden, require_authenticated
from shared.security.principal import Principal, Role
from shared.security.scopes import PROVINCE_CODE, Place

IMPORTERS = frozenset({Role.admin, Role.province_officer})


@dataclass(frozen=True)
class SheetDocument:
    """A stored sheet and its tree."""

    sheet: ScoreSheet
    tree: SheetTree


# Versions and product sets


def list_versions() -> list[CriteriaVersion]:
    """Every criteria version, in the order they came into force."""
    return list(versions.VERSIONS.values())


def get_version(*, code: str) -> CriteriaVersion:
    """The version with this code ("26/2026") or path-safe id ("26-2026")."""
    version = versions.find(code)
    if version is None:
        raise CriteriaVersionNotFound(f"No criteria version {code!r}; the versions are "
                                      f"{', '.join(versions.VERSIONS)} (or {', '.join(versions.BY_SLUG)})")  # fmt: skip
    return version


def _known_version(code: str, field: str) -> CriteriaVersion:
    version = versions.find(code)
    if version is None:
        raise InvalidField(
            field, f"unknown criteria version {code!r} ({', '.join(versions.VERSIONS)})", code="enum"
        )
    return version


async def list_product_sets(
    session: AsyncSession, *, criteria_version: str | None, limit: int, cursor: str | None
) -> KeysetPage[ProductSet]:
    """A page of the product sets of one version (or of all), by version and number."""
    code = _known_version(criteria_version, "query.criteria_version").code if criteria_version else None
    return await ProductSetRepository(session).list(code, limit=limit, after=decode_cursor(cursor, str, int))


# Reading sheets


def _may_see(principal: Principal, sheet: ScoreSheet) -> bool:
    """Published sheets are public; a draft is its province officers' and the admins'."""
    if sheet.status == "published":
        return True
    return policies.visibility(principal).admits(Place(province_code=sheet.province_code))


def _may_manage(principal: Principal, sheet: ScoreSheet) -> bool:
    """Admins manage every imported sheet, a province officer its province's."""
    if principal.role is Role.admin:
        return True
    return principal.role is Role.province_officer and sheet.province_code == principal.scope


async def list_sheets(
    session: AsyncSession,
    *,
    principal: Principal,
    criteria_version: str | None,
    product_set: int | None,
    source: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> KeysetPage[ScoreSheet]:
    """A page of the sheets (the published ones, and the drafts the caller may see), newest first.

    ``product_set`` lists the sheets that apply to it: its own and the generic ones.
    """
    code = _known_version(criteria_version, "query.criteria_version").code if criteria_version else None
    where = SheetFilter(code, product_set, source, status)
    return await ScoreSheetRepository(session).list(
        policies.visibility(principal), where, limit=limit, after=decode_cursor(cursor, datetime, uuid.UUID)
    )


async def _tree(repository: ScoreSheetRepository, sheet: ScoreSheet) -> SheetTree:
    codes: dict[uuid.UUID, str] = {}
    nodes: list[Node] = []
    for node, options in await repository.nodes_of(sheet.id):
        codes[node.id] = node.code
        nodes.append(Node(
            code=node.code, part=node.part, parent=codes[node.parent_id] if node.parent_id else None,
            title=node.title, max_points=node.max_points, mandatory_for_3_star=node.mandatory_for_3_star,
            eliminating=node.eliminating,
            options=tuple(Option(option.code, option.label, option.points) for option in options),
        ))  # fmt: skip
    return SheetTree(tuple(nodes), sheet.id, sheet.criteria_version, sheet.product_set)


async def get_sheet(session: AsyncSession, *, principal: Principal, sheet_id: uuid.UUID) -> SheetDocument:
    """A sheet with its tree, if the caller may see it (a draft of another province is a 404)."""
    repository = ScoreSheetRepository(session)
    sheet = await repository.get(sheet_id)
    if sheet is None or not _may_see(principal, sheet):
        raise ScoreSheetNotFound(f"No score sheet {sheet_id}")
    return SheetDocument(sheet, await _tree(repository, sheet))


# Importing and publishing


def require_importer(principal: Principal) -> Principal:
    """Only admins and province officers (with a province claim) import sheets: 401 without a token, else 403."""
    require_authenticated(principal)
    if principal.role is Role.admin:
        return principal
    if (
        principal.role is Role.province_officer
        and principal.scope
        and PROVINCE_CODE.fullmatch(principal.scope)
    ):
        return principal
    raise Forbidden("Only admins and province officers import and publish score sheets.")


def _drafts(nodes: Sequence[NodeIn], parent: str | None, where: str) -> list[NodeDraft]:
    """The nodes of a JSON tree, flat, each named by its place in the body."""
    drafts: list[NodeDraft] = []
    for index, node in enumerate(nodes):
        at = f"{where}.{index}"
        drafts.append(NodeDraft(
            node.code, parent, node.title, node.max_points, at, mandatory_for_3_star=node.mandatory_for_3_star,
            eliminating=node.eliminating,
            options=[OptionDraft(o.code, o.label, o.points, f"{at}.options.{i}") for i, o in enumerate(node.options)],
        ))  # fmt: skip
        drafts.extend(_drafts(node.children, node.code, f"{at}.children"))
    return drafts


async def _create(
    session: AsyncSession,
    *,
    principal: Principal,
    criteria_version: str,
    product_set: int | None,
    nodes: Sequence[NodeDraft],
    faults: Sequence[dict[str, Any]],
    fields: dict[str, str],
    origin: str,
) -> SheetDocument:
    """Check a whole sheet (every fault at once), then store it as the next draft of its version and set."""
    errors = list(faults)
    version = versions.find(criteria_version)
    if version is None:
        errors.append({"field": fields["criteria_version"], "type": "enum",
                       "message": f"unknown criteria version {criteria_version!r} ({', '.join(versions.VERSIONS)})"})  # fmt: skip
    else:
        if product_set is not None and product_set not in {s.number for s in version.product_sets}:
            errors.append({"field": fields["product_set"], "type": "enum",
                           "message": f"{version.code} has product sets 1–{len(version.product_sets)}"})  # fmt: skip
        # A faulty workbook row is already named: what the sheet's rules add about the same field is
        # its consequence, not news (and a workbook without its header has no nodes to check).
        reported = {error["field"] for error in errors}
        if nodes or not faults:
            errors.extend(
                error
                for error in check_nodes(version, nodes, where=fields["nodes"])
                if error["field"] not in reported
            )
    if errors or version is None:
        raise ScoreSheetInvalid(errors)
    ordered = in_tree_order(nodes)
    digest = checksum(version.code, product_set, ordered)
    if await CriteriaVersionRepository(session).lock(version.code) is None:
        raise CriteriaVersionNotFound(f"Criteria version {version.code} is not loaded in this database")
    repository = ScoreSheetRepository(session)
    province_code = principal.scope if principal.role is Role.province_officer else None
    latest = await repository.latest_of(version.code, product_set, province_code)
    if latest is not None and latest.checksum == digest:
        raise ScoreSheetUnchanged(
            f"Sheet version {latest.sheet_version} ({latest.id}) already has exactly this content",
            sheet_id=str(latest.id),
        )
    sheet = ScoreSheet(
        id=uuid.uuid4(), criteria_version=version.code, product_set=product_set,
        sheet_version=await repository.next_sheet_version(version.code, product_set), source="imported",
        status="draft", used=False, imported_by=principal.sub, province_code=province_code, checksum=digest,
    )  # fmt: skip
    await repository.add_tree(sheet, ordered)
    await audit.record(
        session, actor=principal, action="score_sheet.imported", subject_type="score_sheet", subject_id=sheet.id,
        province_code=province_code,
        detail={"criteria_version": version.code, "product_set": product_set, "sheet_version": sheet.sheet_version,
                "checksum": digest, "format": origin, "nodes": len(ordered)},
    )  # fmt: skip
    return SheetDocument(sheet, await _tree(repository, sheet))


async def import_sheet(
    session: AsyncSession, *, principal: Principal, data: ScoreSheetCreate
) -> SheetDocument:
    """Import a sheet given as a JSON tree; it is stored as a draft."""
    require_importer(principal)
    return await _create(
        session, principal=principal, criteria_version=data.criteria_version, product_set=data.product_set,
        nodes=_drafts(data.nodes, None, "body.nodes"), faults=(), origin="json",
        fields={"criteria_version": "body.criteria_version", "product_set": "body.product_set", "nodes": "body.nodes"},
    )  # fmt: skip


async def import_workbook(
    session: AsyncSession,
    *,
    principal: Principal,
    criteria_version: str,
    product_set: int | None,
    file: IO[bytes],
) -> SheetDocument:
    """Import a sheet given as an XLSX workbook (workbook.py describes the columns); stored as a draft."""
    require_importer(principal)
    try:
        read = await asyncio.to_thread(workbook.read_sheet, file)
    except HostileFile as exc:
        raise WorkbookRefused(f"The workbook is refused: {exc.reason}.", field="file") from exc
    except workbook.UnreadableWorkbook as exc:
        raise WorkbookRefused(f"The workbook is refused: {exc.reason}.", field="file") from exc
    return await _create(
        session, principal=principal, criteria_version=criteria_version, product_set=product_set,
        nodes=read.nodes, faults=read.errors, origin="xlsx",
        fields={"criteria_version": "body.criteria_version", "product_set": "body.product_set", "nodes": "file"},
    )  # fmt: skip


async def publish_sheet(session: AsyncSession, *, principal: Principal, sheet_id: uuid.UUID) -> SheetDocument:
    """Publish a draft: from now on applications of its version and set pin it (or a later one)."""
    require_importer(principal)
    repository = ScoreSheetRepository(session)
    sheet = await repository.get_for_update(sheet_id)
    if sheet is None or not _may_see(principal, sheet):
        raise ScoreSheetNotFound(f"No score sheet {sheet_id}")
    if not _may_manage(principal, sheet):
        raise Forbidden("Only admins publish national sheets, and a province officer only its province's.")
    if sheet.status != "draft":
        raise ScoreSheetNotDraft(f"The sheet is {sheet.status}, not a draft", current_state=sheet.status)
    sheet.status = "published"
    await repository.save(sheet)
    await audit.record(
        session, actor=principal, action="score_sheet.published", subject_type="score_sheet", subject_id=sheet.id,
        province_code=sheet.province_code,
        detail={"criteria_version": sheet.criteria_version, "product_set": sheet.product_set,
                "sheet_version": sheet.sheet_version, "checksum": sheet.checksum},
    )  # fmt: skip
    return SheetDocument(sheet, await _tree(repository, sheet))


# For the applications package


async def sheet_for_submission(
    session: AsyncSession, *, criteria_version: str, product_set: int, province_code: str | None = None
) -> ScoreSheet:
    """The published sheet an application of ``product_set`` pins under ``criteria_version``, marked used.

    The newest imported sheet of the set (national, or ``province_code``'s), else the newest imported
    generic one, else the shipped generic one. Once used a sheet is never changed.
    """
    version = get_version(code=criteria_version)
    if product_set not in {s.number for s in version.product_sets}:
        raise InvalidField("product_set", f"{version.code} has product sets 1–{len(version.product_sets)}")
    repository = ScoreSheetRepository(session)
    sheet = await repository.for_submission(version.code, product_set, province_code)
    if sheet is None:
        raise NoPublishedSheet(f"No published score sheet for {version.code}")
    if not sheet.used:
        sheet.used = True
        await repository.save(sheet)
    return sheet


async def sheet_tree(session: AsyncSession, *, sheet_id: uuid.UUID) -> SheetTree:
    """The tree of a stored sheet (for scoring cards against it)."""
    repository = ScoreSheetRepository(session)
    sheet = await repository.get(sheet_id)
    if sheet is None:
        raise ScoreSheetNotFound(f"No score sheet {sheet_id}")
    return await _tree(repository, sheet)
