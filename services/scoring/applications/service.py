"""Application rules: who opens, completes, checks, assigns and scores a dossier, and what each step needs.

The state machine is OCOP-DOMAIN.md §4 for the post-1489 regime:

    draft ─submit→ submitted ─precheck forward→ forwarded ─completeness eligible→ eligible
    submitted / forwarded ─return (reason)→ returned ─submit→ submitted
    eligible ─assign (open province round)→ in_round ─start-scoring→ scoring
    scoring ─last card (or close-scoring with quorum)→ recognised | not_recognised | potential_5_star
    scoring ─spread too wide→ rescore ─start-scoring (a new pass)→ scoring
    potential_5_star ─propose-central→ submitted_central ─assign-central (open central round)→ in_round …
    … central scoring → recognised (5★, or the provincial 4★ kept)

"scored" is the instant the result is recorded, not a state of its own: the pass's decision moves the
application straight to its outcome. Every step is its own action, checks who may take it (403 for
those who see the dossier but may not act, 404 for those who may not see it) and where the dossier
stands (409 naming the current state), and is audited. Submission fetches the product and its entity
from the registry over HTTP before anything is written, so a registry that is down leaves no trace.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import policies
from services.scoring.applications import aggregation
from services.scoring.applications.errors import (
    ApplicationNotFound,
    AttachmentNotFound,
    AttachmentTooLarge,
    ChoicesInvalid,
    CouncilNotReady,
    EvaluationUnderWay,
    IllegalTransition,
    NotAScorer,
    NotEditable,
    ProductGone,
    ProductNotFound,
    QuorumNotMet,
    ResultNotFound,
    ScorecardExists,
    SelfAssessmentMissing,
    SelfAssessmentNotFound,
    SelfAssessmentStale,
    SnapshotNotFound,
    UnsupportedAttachmentType,
)  # fmt: skip
from services.scoring.applications.models import (
    APPLICATION_TYPES,
    Application,
    Attachment,
    AttachmentBlob,
    Result,
    Scorecard,
    SelfAssessment,
)  # fmt: skip
from services.scoring.applications.repository import (
    ApplicationFilter,
    ApplicationRepository,
    AttachmentRepository,
    ResultRepository,
    ScorecardRepository,
    SelfAssessmentRepository,
)  # fmt: skip
from services.scoring.applications.schemas import ApplicationCreate
from services.scoring.audit import service as audit
from services.scoring.councils import service as councils
from services.scoring.councils.errors import RoundClosed
from services.scoring.councils.models import Council, CouncilMember, Round
from services.scoring.councils.repository import SCORING_ROLES
from services.scoring.criteria import arithmetic, versions
from services.scoring.criteria import service as criteria
from services.scoring.registry import RegistryClient, RegistryUnavailable
from shared import clock
from shared.errors import InvalidField
from shared.pagination import KeysetPage, decode_cursor
from shared.security.dependencies import Forbidden, require_authenticated
from shared.security.principal import Principal, Role
from shared.security.scopes import Place

# The states a dossier may be edited in (attachments, self-assessment) and resubmitted from.
EDITABLE_STATES = ("draft", "returned")
# States in which a dossier sits in a round; it may move to another round once that one is closed.
IN_ROUND_STATES = ("in_round", "scoring", "rescore")
CURRENT_CERTIFICATE = ("active", "expiring")
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
PDF_SIGNATURE = b"%PDF-"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# How a historical result came about: the decision as recorded, its members' cards not kept.
HISTORICAL_RULE = "a decision taken before the platform, recorded with its average; no scorecards kept"
# The results that decide a product's star; a central result that gave no 5★ leaves the provincial one.
DECIDING_OUTCOMES = ("recognised", "not_recognised", "potential_5_star")


def place_of(application: Application) -> Place:
    """Where an application belongs: its entity, commune, province and the council scoring it."""
    return Place(
        application.entity_id, application.commune_code, application.province_code, application.council_id
    )


async def _visible(
    session: AsyncSession, principal: Principal, application_id: uuid.UUID, *, for_update: bool = False
) -> Application:
    """The application if the caller may see it (locked for a change when asked); otherwise a 404."""
    require_authenticated(principal)
    repository = ApplicationRepository(session)
    application = await (
        repository.get_for_update(application_id) if for_update else repository.get(application_id)
    )
    if application is None or not policies.can_read(principal, place_of(application)):
        raise ApplicationNotFound(f"No application {application_id}")
    return application


def _ensure_in(application: Application, allowed: Collection[str], step: str) -> None:
    if application.status not in allowed:
        raise IllegalTransition(
            f"An application in state {application.status!r} cannot {step}",
            current_state=application.status,
            allowed_from=sorted(allowed),
        )


async def _move(
    session: AsyncSession,
    principal: Principal,
    application: Application,
    target: str,
    action: str,
    detail: dict[str, Any] | None = None,
) -> Application:
    """Move the application to ``target`` and audit the step (the caller checked who and from where)."""
    old = application.status
    application.status = target
    await _audit(session, principal, action, application, {"status": [old, target], **(detail or {})})
    return await ApplicationRepository(session).save(application)


async def _audit(
    session: AsyncSession, principal: Principal, action: str, application: Application, detail: dict[str, Any]
) -> None:
    await audit.record(
        session, actor=principal, action=action, subject_type="application", subject_id=application.id,
        province_code=application.province_code, detail=detail,
    )  # fmt: skip


# The registry


async def _registry_record(
    registry: RegistryClient, kind: str, record_id: uuid.UUID
) -> dict[str, Any] | None:
    """The registry's record of a product or entity; None when it has none (any other failure is a 503)."""
    answer = await (registry.product(record_id) if kind == "product" else registry.entity(record_id))
    if answer.status == 404:
        return None
    if answer.status != 200 or not isinstance(answer.body, dict):
        raise RegistryUnavailable(f"the registry answered {answer.status} when asked for {kind} {record_id}")
    return answer.body


def _product_place(product: dict[str, Any]) -> Place:
    return Place(
        uuid.UUID(str(product["entity_id"])), str(product["commune_code"]), str(product["province_code"])
    )


def _check_type(application_type: str, product: dict[str, Any]) -> None:
    """New evaluations are for products without a current certificate; upgrades and re-ratings for rated ones."""
    star = product.get("ocop_star")
    current = star is not None and product.get("certificate_status") in CURRENT_CERTIFICATE
    if application_type == "new" and current:
        raise InvalidField(
            "body.type", "the product holds a current certificate: apply for an upgrade or a re-rating"
        )
    if application_type == "upgrade" and not current:
        raise InvalidField("body.type", "an upgrade is for a product holding a current certificate")
    if application_type == "upgrade" and star is not None and int(star) >= 5:
        raise InvalidField("body.type", "a 5-star product cannot be upgraded")
    if application_type == "re_rating" and star is None:
        raise InvalidField("body.type", "a re-rating is for a product that was rated before")


def _sealed(snapshot: dict[str, Any]) -> str:
    """The SHA-256 of the snapshot's canonical JSON (sorted keys): what was pinned, provably."""
    return hashlib.sha256(orjson.dumps(snapshot, option=orjson.OPT_SORT_KEYS)).hexdigest()


# Opening, reading, listing


async def create_application(
    session: AsyncSession, *, principal: Principal, registry: RegistryClient, data: ApplicationCreate
) -> Application:
    """Open a draft for a registry product: its producer, officers of its unit, admins.

    A product the registry does not have and one the caller may not apply for get the same 404.
    """
    require_authenticated(principal)
    if principal.role not in policies.PREPARERS:
        raise Forbidden("Dossiers are opened by their producer, officers of the product's unit or admins.")
    product = await _registry_record(registry, "product", data.product_id)
    if product is None or not policies.can_prepare(principal, _product_place(product)):
        raise ProductNotFound(f"No product {data.product_id}", field="body.product_id")
    _check_type(data.type, product)
    repository = ApplicationRepository(session)
    if (under_way := await repository.under_way_for_product(data.product_id)) is not None:
        raise EvaluationUnderWay(
            f"Application {under_way.id} of this product is {under_way.status!r}",
            field="body.product_id", application_id=str(under_way.id), current_state=under_way.status,
        )  # fmt: skip
    place = _product_place(product)
    application = Application(
        product_id=data.product_id, entity_id=place.entity_id, commune_code=place.commune_code,
        province_code=place.province_code, application_type=data.type, status="draft",
        classification=product.get("classification"), product_set=product.get("product_set"),
        scoring_pass=0, created_by=principal.sub,
    )  # fmt: skip
    await _pin(session, application, int(product["product_set"]))
    try:
        async with session.begin_nested():
            application = await repository.add(application)
    except IntegrityError as exc:  # a concurrent application for the same product came first
        raise EvaluationUnderWay(
            "Another application of this product was opened meanwhile", field="body.product_id"
        ) from exc
    await _audit(
        session, principal, "application.created", application,
        {"status": [None, "draft"], "product_id": str(data.product_id), "type": data.type},
    )  # fmt: skip
    return application


async def get_application(
    session: AsyncSession, *, principal: Principal, application_id: uuid.UUID
) -> Application:
    """The application, if the caller may see it."""
    return await _visible(session, principal, application_id)


async def get_snapshot(
    session: AsyncSession, *, principal: Principal, application_id: uuid.UUID
) -> Application:
    """The application with the registry records it was submitted with (404 before its first submission)."""
    application = await _visible(session, principal, application_id)
    if application.snapshot is None:
        raise SnapshotNotFound(f"Application {application_id} has not been submitted yet")
    return application


async def list_applications(
    session: AsyncSession,
    *,
    principal: Principal,
    limit: int,
    cursor: str | None,
    status: str | None = None,
    product_id: uuid.UUID | None = None,
    round_id: uuid.UUID | None = None,
) -> KeysetPage[Application]:
    """A page of the applications the caller may see, newest first."""
    require_authenticated(principal)
    return await ApplicationRepository(session).list(
        policies.visibility(principal), ApplicationFilter(status, product_id, round_id), limit=limit,
        after=decode_cursor(cursor, datetime, uuid.UUID),
    )  # fmt: skip


# Submission


async def submit(
    session: AsyncSession, *, principal: Principal, registry: RegistryClient, application_id: uuid.UUID
) -> Application:
    """Hand the dossier in at the commune: snapshot the product and its entity from the registry and pin
    the criteria version in force today with the product set's score sheet.

    The registry is read before anything is written: if it is down the answer is a 503 and nothing changes.
    """
    application = await _visible(session, principal, application_id)
    if not policies.can_prepare(principal, place_of(application)):
        raise Forbidden("You may read this dossier but not submit it.")
    _ensure_in(application, EDITABLE_STATES, "be submitted")
    if await SelfAssessmentRepository(session).get(application.id) is None:
        raise SelfAssessmentMissing(
            "Submit the dossier with its self-assessment (PUT …/self-assessment first)"
        )
    product = await _registry_record(registry, "product", application.product_id)
    entity = (
        await _registry_record(registry, "entity", application.entity_id) if product is not None else None
    )
    if product is None or entity is None or str(product.get("entity_id")) != str(application.entity_id):
        raise ProductGone(f"The registry no longer holds product {application.product_id} of this entity")
    # Written from here on, under the row lock; re-checked in case a concurrent step moved it meanwhile.
    application = await _visible(session, principal, application_id, for_update=True)
    _ensure_in(application, EDITABLE_STATES, "be submitted")
    snapshot = {"product": product, "entity": entity}
    place = _product_place(product)
    old = application.status
    application.snapshot = snapshot
    application.snapshot_sha256 = _sealed(snapshot)
    application.classification = product.get("classification")
    application.product_set = product.get("product_set")
    application.commune_code = str(place.commune_code)
    application.province_code = str(place.province_code)
    application.submitted_at = clock.now()
    application.return_reason = None
    # Pinned on the day of (re)submission: the version in force and its sheet for the product's set.
    await _pin(session, application, int(product["product_set"]))
    await _refit_self_assessment(session, application, application.sheet_id)  # type: ignore[arg-type]
    return await _move(
        session, principal, application, "submitted", "application.submitted",
        {"resubmitted": old == "returned", "snapshot_sha256": application.snapshot_sha256,
         "criteria_version": application.criteria_version, "sheet_id": str(application.sheet_id)},
    )  # fmt: skip


# Checks


async def precheck(
    session: AsyncSession,
    *,
    principal: Principal,
    application_id: uuid.UUID,
    decision: str,
    reason: str | None,
) -> Application:
    """The commune's pre-check: forward to the province, or return to the producer with a reason."""
    application = await _visible(session, principal, application_id, for_update=True)
    if not policies.can_precheck(principal, place_of(application)):
        raise Forbidden("Only officers of the dossier's commune or province pre-check it.")
    return await _check(
        session, principal, application, "submitted", "forwarded" if decision == "forward" else None, reason
    )


async def completeness(
    session: AsyncSession,
    *,
    principal: Principal,
    application_id: uuid.UUID,
    decision: str,
    reason: str | None,
) -> Application:
    """The province's completeness check: eligible for a round, or returned with a reason."""
    application = await _visible(session, principal, application_id, for_update=True)
    if not policies.can_decide_in_province(principal, place_of(application)):
        raise Forbidden("Only officers of the dossier's province check its completeness.")
    return await _check(
        session, principal, application, "forwarded", "eligible" if decision == "eligible" else None, reason
    )


async def _check(
    session: AsyncSession,
    principal: Principal,
    application: Application,
    source: str,
    passed: str | None,
    reason: str | None,
) -> Application:
    """Pass the check (to ``passed``) or return the dossier (``passed`` None) with its reason."""
    target = passed or "returned"
    _ensure_in(application, (source,), f"become {target!r}")
    if passed is None:
        if not reason:
            raise InvalidField("body.reason", "a returned dossier says what to change")
        application.return_reason = reason
        return await _move(
            session, principal, application, "returned", "application.returned", {"reason": reason}
        )
    return await _move(session, principal, application, passed, f"application.{passed}")


# Rounds and scoring passes


async def _current_round_closed(session: AsyncSession, application: Application) -> bool:
    if application.round_id is None:
        return False
    round_, _ = await councils.round_and_council(session, round_id=application.round_id)
    return round_.status == "closed"


async def _assign(
    session: AsyncSession,
    principal: Principal,
    application: Application,
    *,
    round_id: uuid.UUID,
    level: str,
    source: str,
) -> Application:
    """Put the dossier in an open round of ``level``: from ``source``, or from a closed round of that level."""
    reassigning = application.status in IN_ROUND_STATES and application.level == level
    if not (
        application.status == source or (reassigning and await _current_round_closed(session, application))
    ):
        _ensure_in(application, (source,), f"be assigned to a {level} round")
    round_, council = await councils.assignable_round(
        session, principal=principal, round_id=round_id, level=level, province_code=application.province_code
    )
    previous = application.round_id
    application.round_id = round_.id
    application.council_id = council.id
    application.level = level
    detail = {"round_id": str(round_.id), "council_id": str(council.id), "level": level}
    if previous is not None and previous != round_.id:
        detail["previous_round_id"] = str(previous)
    return await _move(session, principal, application, "in_round", "application.assigned", detail)


async def assign(
    session: AsyncSession, *, principal: Principal, application_id: uuid.UUID, round_id: uuid.UUID
) -> Application:
    """Assign an eligible dossier to an open round of its province's council (the province's officers)."""
    application = await _visible(session, principal, application_id, for_update=True)
    if not policies.can_decide_in_province(principal, place_of(application)):
        raise Forbidden("Only officers of the dossier's province assign it to a round.")
    return await _assign(
        session, principal, application, round_id=round_id, level="province", source="eligible"
    )


async def propose_central(
    session: AsyncSession, *, principal: Principal, application_id: uuid.UUID
) -> Application:
    """Propose a potential 5★ product to the central council (the province's officers), unless another
    evaluation of the product has been opened since."""
    application = await _visible(session, principal, application_id, for_update=True)
    if not policies.can_decide_in_province(principal, place_of(application)):
        raise Forbidden("Only officers of the dossier's province propose it for 5 stars.")
    _ensure_in(application, ("potential_5_star",), "be proposed to the central council")
    await _refuse_if_another_under_way(session, application)
    try:
        async with session.begin_nested():
            return await _move(
                session, principal, application, "submitted_central", "application.proposed_central"
            )
    except IntegrityError as exc:  # another evaluation of the product was opened meanwhile
        raise EvaluationUnderWay("Another evaluation of this product was opened meanwhile") from exc


async def _refuse_if_another_under_way(session: AsyncSession, application: Application) -> None:
    other = await ApplicationRepository(session).under_way_for_product(application.product_id)
    if other is not None and other.id != application.id:
        raise EvaluationUnderWay(
            f"Application {other.id} of this product is {other.status!r}: it goes first",
            application_id=str(other.id), current_state=other.status,
        )  # fmt: skip


async def assign_central(
    session: AsyncSession, *, principal: Principal, application_id: uuid.UUID, round_id: uuid.UUID
) -> Application:
    """Assign a proposed dossier to an open central round (admins, who manage the central council)."""
    application = await _visible(session, principal, application_id, for_update=True)
    if not policies.can_manage_council(principal, level="central", province_code=None):
        raise Forbidden("Only admins assign dossiers to central rounds.")
    return await _assign(
        session, principal, application, round_id=round_id, level="central", source="submitted_central"
    )


async def _managed_round(
    session: AsyncSession, principal: Principal, application: Application
) -> tuple[Round, Council]:
    """The dossier's round and council, if the caller manages that council (403 otherwise)."""
    if application.round_id is None:
        raise IllegalTransition(
            f"An application in state {application.status!r} is in no round",
            current_state=application.status, allowed_from=sorted(IN_ROUND_STATES),
        )  # fmt: skip
    round_, council = await councils.round_and_council(session, round_id=application.round_id)
    if not policies.can_manage_council(principal, level=round_.level, province_code=round_.province_code):
        raise Forbidden("Only those who manage the round's council run its scoring passes.")
    return round_, council


async def start_scoring(
    session: AsyncSession, *, principal: Principal, application_id: uuid.UUID
) -> Application:
    """Open a scoring pass (the first, or a new one after a rescore) in the dossier's open round."""
    application = await _visible(session, principal, application_id, for_update=True)
    round_, council = await _managed_round(session, principal, application)
    _ensure_in(application, ("in_round", "rescore"), "start a scoring pass")
    if round_.status != "open":
        raise RoundClosed(
            f"Round {round_.id} is closed: assign the dossier to an open round", current_state=round_.status
        )
    scorers = await councils.scoring_members(session, council_id=council.id)
    if sum(1 for member in scorers if member.role == "chair") != 1:
        raise CouncilNotReady("A scoring pass needs a council with exactly one chair")
    application.scoring_pass += 1
    return await _move(
        session, principal, application, "scoring", "application.scoring_started",
        {"pass": application.scoring_pass, "members_expected": len(scorers)},
    )  # fmt: skip


# Attachments


def attachment_type(data: bytes) -> str | None:
    """The media type of a PDF, PNG, JPEG or WebP file by its signature; None for anything else."""
    if data.startswith(PDF_SIGNATURE):
        return "application/pdf"
    if data.startswith(PNG_SIGNATURE):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


async def add_attachment(
    session: AsyncSession,
    *,
    principal: Principal,
    application_id: uuid.UUID,
    kind: str,
    filename: str,
    data: bytes,
) -> Attachment:
    """Attach a document while the dossier is a draft or returned; its bytes are stored once by SHA-256."""
    application = await _visible(session, principal, application_id, for_update=True)
    if not policies.can_prepare(principal, place_of(application)):
        raise Forbidden("You may read this dossier but not change it.")
    if application.status not in EDITABLE_STATES:
        raise NotEditable(
            f"A dossier in state {application.status!r} takes no attachments",
            current_state=application.status, editable_states=list(EDITABLE_STATES),
        )  # fmt: skip
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise AttachmentTooLarge(
            f"Attachments are limited to {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MiB", field="file"
        )
    if not data or (content_type := attachment_type(data)) is None:
        raise UnsupportedAttachmentType("Attach a PDF document or a JPEG, PNG or WebP image", field="file")
    digest = hashlib.sha256(data).hexdigest()
    repository = AttachmentRepository(session)
    if (existing := await repository.find(application.id, sha256=digest, kind=kind)) is not None:
        return existing
    await repository.store_blob(digest, content_type, data)
    attachment = await repository.add(
        Attachment(
            application_id=application.id, kind=kind, filename=filename, sha256=digest, content_type=content_type,
            size=len(data), uploaded_by=principal.sub,
        )
    )  # fmt: skip
    await _audit(
        session, principal, "application.attachment_added", application,
        {"kind": kind, "sha256": digest, "filename": filename, "size": len(data)},
    )  # fmt: skip
    return attachment


async def list_attachments(
    session: AsyncSession, *, principal: Principal, application_id: uuid.UUID
) -> Sequence[Attachment]:
    """The dossier's attachments, oldest first."""
    application = await _visible(session, principal, application_id)
    return await AttachmentRepository(session).of_application(application.id)


async def read_attachment(
    session: AsyncSession, *, principal: Principal, application_id: uuid.UUID, sha256: str
) -> tuple[Attachment, AttachmentBlob]:
    """An attachment of a dossier the caller may see, and its bytes."""
    application = await _visible(session, principal, application_id)
    repository = AttachmentRepository(session)
    attachment = await repository.find(application.id, sha256=sha256)
    blob = await repository.blob(sha256) if attachment is not None else None
    if attachment is None or blob is None:
        raise AttachmentNotFound(f"Application {application_id} has no attachment {sha256}")
    return attachment, blob


# The self-assessment (Form 02)


async def _pin(session: AsyncSession, application: Application, product_set: int) -> None:
    """Pin the criteria version in force today and the score sheet it gives the product's set.

    A draft is pinned when it is opened, so its producer knows the sheet to self-assess on; every
    submission pins again, and that pin is the one the dossier is scored on.
    """
    version = versions.version_in_force(clock.today())
    sheet = await criteria.sheet_for_submission(
        session,
        criteria_version=version.code,
        product_set=product_set,
        province_code=application.province_code,
    )
    application.criteria_version = version.code
    application.sheet_id = sheet.id


def _decimal_text(values: Mapping[str, Decimal]) -> dict[str, str]:
    return {name: str(value) for name, value in values.items()}


def _score_fields(score: arithmetic.CardScore) -> dict[str, Any]:
    """A card's computed scores as stored."""
    return {
        "parts": _decimal_text(score.parts), "total": score.total,
        "mandatory_failed": list(score.mandatory_failed), "eliminated": list(score.eliminated),
    }  # fmt: skip


async def save_self_assessment(
    session: AsyncSession,
    *,
    principal: Principal,
    registry: RegistryClient,
    application_id: uuid.UUID,
    choices: Mapping[str, str],
) -> SelfAssessment:
    """Record the producer's self-assessment on the sheet a submission today would pin, every leaf answered.

    The dossier is pinned again first (the version in force, the newest sheet of the product's set as
    the registry has it now), so a self-assessment always answers the sheet the submission will use;
    a refusal names each bad choice and that sheet's id.
    """
    application = await _visible(session, principal, application_id)
    _ensure_editable(principal, application)
    product = await _registry_record(registry, "product", application.product_id)
    if product is None:
        raise ProductGone(f"The registry no longer holds product {application.product_id}")
    application = await _visible(session, principal, application_id, for_update=True)
    _ensure_editable(principal, application)
    application.product_set = int(product["product_set"])
    application.classification = product.get("classification")
    await _pin(session, application, application.product_set)
    sheet_id: uuid.UUID = application.sheet_id  # type: ignore[assignment]
    try:
        score = arithmetic.score_card(await criteria.sheet_tree(session, sheet_id=sheet_id), choices)
    except arithmetic.InvalidChoices as exc:
        raise ChoicesInvalid(exc.extensions.get("errors", []), sheet_id=str(sheet_id)) from exc
    repository = SelfAssessmentRepository(session)
    values = {
        "sheet_id": sheet_id,
        "choices": dict(choices),
        **_score_fields(score),
        "updated_by": principal.sub,
    }
    assessment = await repository.get(application.id)
    if assessment is None:
        assessment = await repository.add(SelfAssessment(application_id=application.id, **values))
    else:
        for field, value in values.items():
            setattr(assessment, field, value)
        assessment = await repository.save(assessment)
    await _audit(
        session, principal, "application.self_assessed", application,
        {"sheet_id": str(sheet_id), "total": str(score.total)},
    )  # fmt: skip
    return assessment


def _ensure_editable(principal: Principal, application: Application) -> None:
    if not policies.can_prepare(principal, place_of(application)):
        raise Forbidden("You may read this dossier but not change it.")
    if application.status not in EDITABLE_STATES:
        raise NotEditable(
            f"A dossier in state {application.status!r} keeps its self-assessment",
            current_state=application.status, editable_states=list(EDITABLE_STATES),
        )  # fmt: skip


async def get_self_assessment(
    session: AsyncSession, *, principal: Principal, application_id: uuid.UUID
) -> SelfAssessment:
    """The dossier's self-assessment, if one was made."""
    application = await _visible(session, principal, application_id)
    assessment = await SelfAssessmentRepository(session).get(application.id)
    if assessment is None:
        raise SelfAssessmentNotFound(f"Application {application_id} has no self-assessment yet")
    return assessment


async def _refit_self_assessment(
    session: AsyncSession, application: Application, sheet_id: uuid.UUID
) -> None:
    """Re-score the self-assessment on the sheet just pinned, if it was made on another; refused if it no
    longer fits (a criterion the new sheet lacks or an option it does not offer)."""
    repository = SelfAssessmentRepository(session)
    assessment = await repository.get(application.id)
    if assessment is None or assessment.sheet_id == sheet_id:
        return
    try:
        score = arithmetic.score_card(
            await criteria.sheet_tree(session, sheet_id=sheet_id), assessment.choices
        )
    except arithmetic.InvalidChoices as exc:
        raise SelfAssessmentStale(
            "The score sheet in force today differs from the one the self-assessment was made on: redo it",
            sheet_id=str(sheet_id), errors=exc.extensions.get("errors", []),
        ) from exc  # fmt: skip
    assessment.sheet_id = sheet_id
    for field, value in _score_fields(score).items():
        setattr(assessment, field, value)
    await repository.save(assessment)


# Scorecards and results


def _rules(council: Council) -> aggregation.CouncilRules:
    return aggregation.CouncilRules(council.quorum, council.quorum_includes_chair, council.max_spread)


def _for_aggregation(cards: Sequence[Scorecard]) -> list[aggregation.Card]:
    return [
        aggregation.Card(
            card.member_id, card.member_role == "chair", {name: Decimal(value) for name, value in card.parts.items()},
            card.total, tuple(card.mandatory_failed), tuple(card.eliminated),
        )
        for card in cards
    ]  # fmt: skip


async def _scorer(session: AsyncSession, principal: Principal, application: Application) -> CouncilMember:
    """The caller as a scoring member (chair or member) of the council scoring the dossier; else 403."""
    member = (
        await councils.member_by_sub(session, council_id=application.council_id, sub=principal.sub)
        if principal.role is Role.council_member and application.council_id is not None
        and principal.scope == str(application.council_id)
        else None
    )  # fmt: skip
    if member is None or member.role not in SCORING_ROLES:
        raise NotAScorer("Only the chair and members of the council scoring this dossier submit scorecards")
    return member


async def submit_scorecard(
    session: AsyncSession, *, principal: Principal, application_id: uuid.UUID, choices: Mapping[str, str]
) -> Scorecard:
    """A member's card for the open pass; the last expected card decides the pass in the same transaction.

    The application row is locked first, so when the last two cards arrive together one transaction
    waits for the other and sees its card: exactly one of them records the result.
    """
    application = await _visible(session, principal, application_id, for_update=True)
    member = await _scorer(session, principal, application)
    _ensure_in(application, ("scoring",), "take scorecards")
    round_, council = await councils.round_and_council(session, round_id=application.round_id)  # type: ignore[arg-type]
    if round_.status != "open":
        raise RoundClosed(f"Round {round_.id} is closed: no more scorecards", current_state=round_.status)
    repository = ScorecardRepository(session)
    if await repository.of_member(application.id, application.scoring_pass, member.id) is not None:
        raise ScorecardExists(
            f"You have already scored pass {application.scoring_pass} of this dossier",
            pass_number=application.scoring_pass,
        )
    score = arithmetic.score_card(await criteria.sheet_tree(session, sheet_id=application.sheet_id), choices)  # type: ignore[arg-type]
    card = await repository.add(
        Scorecard(
            application_id=application.id, pass_number=application.scoring_pass, round_id=round_.id,
            member_id=member.id, member_sub=member.sub, member_role=member.role, choices=dict(choices),
            **_score_fields(score),
        )
    )  # fmt: skip
    await _audit(
        session, principal, "application.scorecard_submitted", application,
        {"pass": application.scoring_pass, "member": member.sub, "total": str(score.total)},
    )  # fmt: skip
    scorers = await councils.scoring_members(session, council_id=council.id)
    cards = await repository.of_pass(application.id, application.scoring_pass)
    if {scorer.id for scorer in scorers} <= {submitted.member_id for submitted in cards}:
        await _close_pass(session, principal, application, council, cards, expected=len(scorers))
    return card


async def close_scoring(
    session: AsyncSession, *, principal: Principal, application_id: uuid.UUID
) -> Application:
    """Decide the open pass with the cards in, when they make a quorum (those who manage the council)."""
    application = await _visible(session, principal, application_id, for_update=True)
    _, council = await _managed_round(session, principal, application)
    _ensure_in(application, ("scoring",), "close its scoring pass")
    cards = await ScorecardRepository(session).of_pass(application.id, application.scoring_pass)
    scorers = await councils.scoring_members(session, council_id=council.id)
    shortfall = aggregation.quorum_shortfall(
        _for_aggregation(cards), expected=len(scorers), rules=_rules(council)
    )
    if shortfall is not None:
        raise QuorumNotMet(
            f"Quorum not met: {shortfall}", members_scored=len(cards), members_expected=len(scorers),
            quorum=str(council.quorum), quorum_includes_chair=council.quorum_includes_chair,
        )  # fmt: skip
    await _close_pass(session, principal, application, council, cards, expected=len(scorers))
    return application


async def _close_pass(
    session: AsyncSession,
    principal: Principal,
    application: Application,
    council: Council,
    cards: Sequence[Scorecard],
    *,
    expected: int,
) -> Result | None:
    """Decide the pass: RESCORE when the totals spread too far, otherwise the result and the outcome."""
    version = versions.VERSIONS[str(application.criteria_version)]
    level = str(application.level)
    results = ResultRepository(session)
    provincial = (
        await results.latest(application.id, outcomes=("potential_5_star",), level="province")
        if level == "central"
        else None
    )
    decision = aggregation.decide(
        _for_aggregation(cards), rules=_rules(council), level=level,
        band_star_of=lambda average: versions.star_for(version, average),
        stars_decided_here=version.stars_decided_at(level),  # type: ignore[arg-type]
        provincial_star=provincial.star if provincial is not None else None,
    )  # fmt: skip
    pass_number = application.scoring_pass
    if isinstance(decision, aggregation.Rescore):
        await _move(
            session, principal, application, "rescore", "application.rescore",
            {"pass": pass_number, "spread": str(decision.spread), "max_spread": str(council.max_spread),
             "totals": [str(total) for total in decision.totals]},
        )  # fmt: skip
        return None
    result = await results.add(
        Result(
            application_id=application.id, pass_number=pass_number, round_id=application.round_id,
            council_id=council.id, level=level, average_total=decision.average_total,
            parts=_decimal_text(decision.parts), spread=decision.spread, band_star=decision.band_star,
            star=decision.star, outcome=decision.outcome, mandatory_failed=list(decision.mandatory_failed),
            eliminated=list(decision.eliminated), criteria_version=version.code,
            rule=f"{version.code}: {aggregation.RULE}", members_scored=len(cards), members_expected=expected,
            product_id=application.product_id, entity_id=application.entity_id,
            province_code=application.province_code, application_type=application.application_type,
            decided_by=principal.sub,
        )
    )  # fmt: skip
    summary = {
        "result_id": str(result.id), "pass": pass_number, "level": level, "average_total": str(result.average_total),
        "star": result.star, "outcome": result.outcome,
    }  # fmt: skip
    await audit.record(
        session, actor=principal, action="result.recorded", subject_type="result", subject_id=result.id,
        province_code=application.province_code, detail={"application_id": str(application.id), **summary},
    )  # fmt: skip
    target = "recognised" if decision.outcome == "provincial_result_kept" else decision.outcome
    await _move(session, principal, application, target, "application.decided", summary)
    return result


async def list_scorecards(
    session: AsyncSession, *, principal: Principal, application_id: uuid.UUID
) -> Sequence[Scorecard]:
    """The cards the caller may read: of closed passes, all; of the open pass, only the caller's own."""
    application = await _visible(session, principal, application_id)
    if not policies.can_read_scorecards(principal, place_of(application)):
        raise Forbidden(
            "Scorecards are read by the council scoring the dossier, its province's officers and admins."
        )
    open_pass = application.scoring_pass if application.status == "scoring" else None
    return [
        card
        for card in await ScorecardRepository(session).of_application(application.id)
        if card.pass_number != open_pass
        or (principal.role is Role.council_member and card.member_sub == principal.sub)
    ]


async def list_results(
    session: AsyncSession, *, principal: Principal, application_id: uuid.UUID
) -> Sequence[Result]:
    """The dossier's results, by pass: whoever reads the dossier, and the national client."""
    require_authenticated(principal)
    application = await ApplicationRepository(session).get(application_id)
    if application is None or not policies.can_read_results(principal, place_of(application)):
        raise ApplicationNotFound(f"No application {application_id}")
    return await ResultRepository(session).of_application(application.id)


async def decided_result(session: AsyncSession, *, application_id: uuid.UUID) -> Result:
    """The result that decides the application's star now (for the certificates package).

    The latest recognised, not recognised or potential-5★ result; a central result that did not give
    5★ leaves the provincial result in force, so that one is returned. ResultNotFound when none.
    """
    result = await ResultRepository(session).latest(application_id, outcomes=DECIDING_OUTCOMES)
    if result is None:
        raise ResultNotFound(f"Application {application_id} has no decided result")
    return result


# History (the demo loader's path)


async def record_historical_result(
    session: AsyncSession,
    *,
    actor: Principal,
    product: Mapping[str, Any],
    entity: Mapping[str, Any],
    application_type: str,
    round_id: uuid.UUID,
    criteria_version: str,
    submitted_at: datetime,
    decided_at: datetime,
    star: int,
    average_total: Decimal,
    parts: Mapping[str, Decimal],
    spread: Decimal,
) -> Result:
    """Record a decision taken before the platform: a decided dossier and its result, without scorecards.

    The demo loader's path (scoring's history of the registry's demo products); live dossiers are
    decided only by their council's cards. The same invariants as a live decision: the dossier holds
    the registry's ``product`` and ``entity`` (as read over HTTP) as its sealed snapshot and is pinned
    to ``criteria_version`` (the rules the decision applied: a national version, with the set's
    score sheet, or the provincial programmes before them); the round's council decided, at its
    level, a star that level certifies under those rules; the average lies in that star's band and
    the parts within the version's maxima add up to it; the round had closed its dossiers before the
    decision. The result is immutable like any other and both records are audited as ``actor``'s.
    """
    if application_type not in APPLICATION_TYPES:
        raise InvalidField("application_type", f"one of {', '.join(APPLICATION_TYPES)}")
    try:
        version = versions.regime(criteria_version)
    except KeyError:
        raise InvalidField("criteria_version", f"unknown criteria version {criteria_version!r}") from None
    round_, council = await councils.round_and_council(session, round_id=round_id)
    level = round_.level
    if star not in version.certifiable_stars or version.deciding_level(star) != level:
        raise InvalidField("star", f"a {level} council does not decide {star}★ under {version.code}")
    if versions.star_for(version, average_total) != star:
        raise InvalidField("average_total", f"{average_total} is not in the {star}★ band of {version.code}")
    if (
        set(parts) != set(version.part_maxima)
        or sum(parts.values()) != average_total
        or any(not Decimal(0) <= parts[part] <= maximum for part, maximum in version.part_maxima.items())
    ):
        raise InvalidField(
            "parts", f"parts {'/'.join(version.part_maxima)} within their maxima adding up to the average"
        )
    day = decided_at.astimezone(clock.VIETNAM).date()
    if not (
        version.in_force_from <= day and submitted_at.astimezone(clock.VIETNAM).date() <= round_.cut_off < day
    ):
        raise InvalidField(
            "decided_at", "submitted by the round's cut-off, decided after it under rules then in force"
        )
    if decided_at > clock.now() or spread < 0 or spread > council.max_spread:
        raise InvalidField("spread", "a past decision whose members' totals were within the council's spread")
    place = _product_place(dict(product))
    if str(entity.get("id")) != str(place.entity_id):
        raise InvalidField("entity", "the product's own entity")
    if await ApplicationRepository(session).under_way_for_product(uuid.UUID(str(product["id"]))) is not None:
        raise EvaluationUnderWay("The product has an evaluation under way", field="product")
    snapshot = {"product": dict(product), "entity": dict(entity)}
    application = Application(
        product_id=uuid.UUID(str(product["id"])), entity_id=place.entity_id, commune_code=place.commune_code,
        province_code=place.province_code, application_type=application_type, status="recognised",
        classification=product.get("classification"), product_set=int(product["product_set"]),
        criteria_version=version.code, snapshot=snapshot, snapshot_sha256=_sealed(snapshot),
        submitted_at=submitted_at, level=level, round_id=round_.id, council_id=council.id, scoring_pass=1,
        created_by=actor.sub,
    )  # fmt: skip
    if version.code in versions.VERSIONS:
        sheet = await criteria.sheet_for_submission(
            session, criteria_version=version.code, product_set=int(product["product_set"]),
            province_code=place.province_code,
        )  # fmt: skip
        application.sheet_id = sheet.id
    application = await ApplicationRepository(session).add(application)
    scorers = await councils.scoring_members(session, council_id=council.id)
    result = await ResultRepository(session).add(
        Result(
            application_id=application.id, pass_number=1, round_id=round_.id, council_id=council.id, level=level,
            average_total=average_total, parts=_decimal_text(parts), spread=spread, band_star=star, star=star,
            outcome="recognised", mandatory_failed=[], eliminated=[], criteria_version=version.code,
            rule=f"{version.code}: {HISTORICAL_RULE}", members_scored=len(scorers),
            members_expected=len(scorers), product_id=application.product_id, entity_id=application.entity_id,
            province_code=application.province_code, application_type=application_type, decided_by=actor.sub,
            decided_at=decided_at,
        )
    )  # fmt: skip
    await _audit(
        session, actor, "application.recorded", application,
        {"status": [None, "recognised"], "product_id": str(application.product_id), "type": application_type,
         "round_id": str(round_.id), "criteria_version": version.code, "snapshot_sha256": application.snapshot_sha256,
         "submitted_at": submitted_at.isoformat()},
    )  # fmt: skip
    await audit.record(
        session, actor=actor, action="result.recorded", subject_type="result", subject_id=result.id,
        province_code=application.province_code,
        detail={"application_id": str(application.id), "result_id": str(result.id), "pass": 1, "level": level,
                "average_total": str(average_total), "star": star, "outcome": "recognised", "historical": True},
    )  # fmt: skip
    return result
