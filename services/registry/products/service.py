"""Product rules: registration, codes, GTINs, the lifecycle, certification, history and images."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import typing
import uuid
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import policies
from services.registry.batch import Batch, Outcome
from services.registry.catalogue_feed import service as catalogue_feed
from services.registry.changes.errors import NeedsApproval
from services.registry.entities import service as entity_service
from services.registry.entities.errors import EntityNotFound
from services.registry.entities.models import Entity
from services.registry.files import exports
from services.registry.files.columns import PRODUCTS as PRODUCT_FILE
from services.registry.files.columns import FileFormat
from services.registry.products import certificates, events
from services.registry.products.classification import classify
from services.registry.products.errors import (
    CertificateEventInvalid,
    CertificateFactsDiffer,
    CertificateNumberTaken,
    GtinTaken,
    IllegalTransition,
    ImageNotFound,
    ImageTooLarge,
    ProductNameTaken,
    ProductNotFound,
    UnsupportedImageType,
)  # fmt: skip
from services.registry.products.identifiers import gtin_is_valid, gtin_is_vietnamese, product_code
from services.registry.products.models import Media, Product, ProductChange
from services.registry.products.repository import UNIT_COLUMNS, ProductRepository
from services.registry.products.schemas import CertificationIn, ProductCreate, ProductUpdate, Warning
from shared import clock, images
from shared.db import Database
from shared.errors import Conflict, InvalidField, ProblemError
from shared.events.envelope import Envelope
from shared.pagination import KeysetPage, decode_cursor
from shared.security.dependencies import Forbidden, require_authenticated
from shared.security.principal import Principal, Role
from shared.security.scopes import Place, Visibility
from shared.text import fold

LOG = logging.getLogger("services.registry.products")

# ProductCreate's fields a product is registered with (its entity, images and status aside), which an
# import may also change; and what is read of a stored product to compare a change with (updated_at
# tells whether it changed again before the change is written).
REGISTERED = tuple(
    name for name in ProductCreate.model_fields if name not in ("entity_id", "images", "status")
)
CHANGEABLE = ("id", "entity_id", *REGISTERED, "name_folded", "product_group", "sector", "updated_at")
MAX_IMAGE_BYTES = images.MAX_IMAGE_BYTES
MAX_IMAGES = 10

# The cycle's forward path plus the ways back it allows; certified/lapsed are reached only through
# apply_certification, never through a status change.
TRANSITIONS: dict[str, frozenset[str]] = {
    "idea": frozenset({"business_plan"}),
    "business_plan": frozenset({"implementing"}),
    "implementing": frozenset({"ready_for_evaluation"}),
    "ready_for_evaluation": frozenset({"implementing"}),
    "certified": frozenset(),
    "lapsed": frozenset({"implementing", "ready_for_evaluation"}),
}
# What a certificate and the public record stand on: a producer changes it only through a change request.
IDENTITY_FIELDS = ("name", "name_en", "product_set", "classification", "gtin")
# What a producer may do on its own; the rest needs an officer's decision (the cycle's reviews).
PRODUCER_TRANSITIONS = frozenset({("implementing", "ready_for_evaluation"), ("ready_for_evaluation", "implementing"),
                                  ("lapsed", "ready_for_evaluation"), ("lapsed", "implementing")})  # fmt: skip


@dataclass(frozen=True)
class UnitAsOf:
    """An administrative unit as it stands on the snapshot's day (or as it ended, if it has)."""

    code: str
    name: str
    unit_type: str
    valid_from: date | None
    valid_to: date | None


@dataclass(frozen=True)
class Snapshot:
    """What scoring pins when a dossier is submitted: the product, its entity, commune and province."""

    as_of: date
    product: Product
    entity: Entity
    commune: UnitAsOf | None
    province: UnitAsOf | None


def place_of(product: Product) -> Place:
    """Where a product belongs, for the access rules."""
    return Place(product.entity_id, product.commune_code, product.province_code)


def is_public(product: Product) -> bool:
    """Whether the product is in the public catalogue (certified, certificate in force and not run out)."""
    return (
        product.status == "certified"
        and product.certificate_status in ("active", "expiring")
        and product.certificate_expires_on is not None
        and product.certificate_expires_on >= clock.today()
    )


def _gtin_problem(gtin: str | None) -> InvalidField | None:
    if gtin is not None and not gtin_is_valid(gtin):
        return InvalidField("body.gtin", "the GS1 check digit is wrong", code="gtin_check_digit")
    return None


def _gtin_warnings(gtin: str | None) -> list[Warning]:
    if gtin is not None and not gtin_is_vietnamese(gtin):
        return [
            Warning(
                field="body.gtin",
                message="not under GS1 Vietnam's 893 prefix; check the GTIN is this product's",
            )
        ]
    return []


def _actor(principal: Principal) -> tuple[str, str]:
    return principal.sub, principal.role.value


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _history(
    principal: Principal, product_id: uuid.UUID, action: str, changes: dict[str, Any], job: uuid.UUID | None
) -> dict[str, Any]:
    """One history entry; an import's entries also name the job that wrote them."""
    actor, role = _actor(principal)
    if job is not None:
        changes = {**changes, "import_job": str(job)}
    return {
        "product_id": product_id,
        "actor": actor,
        "actor_role": role,
        "action": action,
        "changes": changes,
    }


@dataclass(frozen=True)
class ProductInput:
    """One product for ``save_products``: ProductCreate's fields, its entity named by id or by tax code."""

    fields: Mapping[str, Any]
    entity_id: uuid.UUID | None = None
    entity_tax_code: str | None = None


@dataclass
class CodeNumbers:
    """Product-code numbers of one year taken ahead, per commune, handed out in order."""

    year: int
    numbers: dict[str, Iterator[int]]

    def take(self, commune_code: str) -> int | None:
        """The next number of a commune, None when its numbers are used up."""
        return next(self.numbers.get(commune_code, iter(())), None)


async def reserve_codes(session: AsyncSession, *, counts: Mapping[str, int], year: int) -> CodeNumbers:
    """Take ``counts[commune]`` product-code numbers of ``year`` per commune (the rows stay locked until commit)."""
    last = await ProductRepository(session).take_code_numbers(counts, year)
    return CodeNumbers(
        year,
        {
            commune: iter(range(last[commune] - count + 1, last[commune] + 1))
            for commune, count in counts.items()
        },
    )


def _owner_problem(principal: Principal, owner: Any, named: str, field: str) -> ProblemError | None:
    """Products are registered for an entity the caller may edit; one it may not see does not exist."""
    if owner is None or not policies.can_read(principal, entity_service.place_of(owner)):
        return EntityNotFound(f"No entity {named}", field=field)
    if not policies.can_edit(principal, entity_service.place_of(owner)):
        return Forbidden("You may read this entity but not register products for it.", field=field)
    return None


def _initial_status_problem(principal: Principal, fields: Mapping[str, Any]) -> ProblemError | None:
    """A producer starts a product at the idea; the later states follow an officer's review of idea and plan."""
    if principal.role is Role.producer and fields.get("status", "idea") != "idea":
        return Forbidden(
            "Producers register products as ideas; officers decide the later states.", field="body.status"
        )
    return None


def _taken(
    entity_id: uuid.UUID, fields: Mapping[str, Any], stored: _Stored, current: uuid.UUID | None
) -> ProblemError | None:
    """Names and external ids are unique per entity, GTINs across the registry (``current`` may keep its own)."""
    name, external_id, gtin = fields.get("name"), fields.get("external_id"), fields.get("gtin")
    same_name = stored.by_name.get((entity_id, name)) if name is not None else None
    if same_name is not None and same_name.id != current:
        known_as = f" (external id {same_name.external_id!r})" if same_name.external_id else ""
        return ProductNameTaken(
            f"The entity already has a product named {name!r}{known_as}", field="body.name"
        )
    same_id = stored.by_external_id.get((entity_id, external_id)) if external_id is not None else None
    if same_id is not None and same_id.id != current:
        return ProductNameTaken(
            f"The entity already has a product with external id {external_id!r}", field="body.external_id"
        )
    owner = stored.gtin_owners.get(gtin) if gtin is not None else None
    if owner is not None and owner != current:
        return GtinTaken(f"GTIN {gtin} is already registered", field="body.gtin")
    return None


def _target(entity_id: uuid.UUID, fields: Mapping[str, Any], stored: _Stored) -> Any:
    """The stored product a row changes when registering updates: by external id, else by name (None: new).

    A product first registered without an external id is found by its name and gets one now.
    """
    named = stored.by_name.get((entity_id, fields["name"]))
    external_id = fields.get("external_id")
    if external_id is None:
        return named
    found = stored.by_external_id.get((entity_id, external_id))
    if found is None and named is not None and named.external_id is None:
        return named
    return found


def _changed(current: Any, new: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """A product's columns after ``new`` (classification and folded name follow their sources) and the history diff."""
    values = dict(new)
    if "product_set" in values or "classification" in values:
        values["product_group"], values["sector"] = classify(
            values.get("product_set", current.product_set),
            values.get("classification", current.classification),
        )
    if "name" in values:
        values["name_folded"] = fold(values["name"])
    diff = {
        name: [_jsonable(getattr(current, name)), _jsonable(value)]
        for name, value in values.items()
        if name != "name_folded" and getattr(current, name) != value
    }
    return values, diff


@dataclass
class _Stored:
    """What a batch's lookups found: products by (entity, name) and (entity, external id), GTIN holders."""

    by_name: dict[tuple[uuid.UUID, str], Any]
    by_external_id: dict[tuple[uuid.UUID, str], Any]
    gtin_owners: dict[str, uuid.UUID]

    @classmethod
    async def find(
        cls, repository: ProductRepository, keyed: Sequence[tuple[uuid.UUID, Mapping[str, Any]]]
    ) -> _Stored:
        """One query per kind of key for the whole batch."""
        rows = await repository.rows_by_keys(
            {(entity_id, fields["name"]) for entity_id, fields in keyed if fields.get("name") is not None},
            {(entity_id, fields["external_id"]) for entity_id, fields in keyed if fields.get("external_id")},
            CHANGEABLE,
        )
        gtins = {fields["gtin"] for _, fields in keyed if fields.get("gtin") is not None}
        return cls(
            {(row.entity_id, row.name): row for row in rows},
            {(row.entity_id, row.external_id): row for row in rows if row.external_id is not None},
            await repository.gtin_owners(gtins),
        )


@dataclass
class _Plan:
    """One row of ``save_products`` on its way through the rules."""

    row: ProductInput
    outcome: Outcome
    owner: Any = None
    values: dict[str, Any] | None = None
    diff: dict[str, list[Any]] = dataclasses.field(default_factory=dict)
    seen: Any = None  # when the stored product a change was checked against was last updated


def _new_values(fields: Mapping[str, Any], owner: Any) -> dict[str, Any]:
    group, sector = classify(fields["product_set"], fields["classification"])
    return {
        **{name: fields.get(name) for name in REGISTERED},
        "images": list(fields.get("images") or []),
        "status": fields.get("status") or "idea",
        "id": uuid.uuid4(),
        "entity_id": owner.id,
        "name_folded": fold(fields["name"]),
        "product_group": group,
        "sector": sector,
        "commune_code": owner.commune_code,
        "province_code": owner.province_code,
    }


async def save_products(
    session: AsyncSession,
    *,
    principal: Principal,
    rows: Sequence[ProductInput],
    columns: Collection[str] | None = None,
    update: bool = False,
    dry_run: bool = False,
    codes: CodeNumbers | None = None,
    import_job: uuid.UUID | None = None,
) -> Batch:
    """Register products under the API's rules; with ``update``, change those a row names (by external id or name).

    ``columns`` are the fields the caller gives (all by default): an update changes only those. New
    products take their codes from ``codes`` (taken now, in this transaction, when not given). Every
    write is in the product's history, naming ``import_job`` if any. One query per lookup for the whole
    batch; written (unless ``dry_run``) only when every row passes. A product may appear once in a batch.
    """
    require_authenticated(principal)
    by_id, by_tax_code = await entity_service.owners(
        session,
        ids={row.entity_id for row in rows if row.entity_id is not None},
        tax_codes={row.entity_tax_code for row in rows if row.entity_tax_code is not None},
    )
    plans = []
    for row in rows:
        if row.entity_id is not None:
            owner, named, at = by_id.get(row.entity_id), str(row.entity_id), "body.entity_id"
        else:
            tax_code = row.entity_tax_code or ""
            owner, named, at = by_tax_code.get(tax_code), f"with tax code {tax_code}", "body.entity_tax_code"
        problem = (
            _owner_problem(principal, owner, named, at)
            or _initial_status_problem(principal, row.fields)
            or _gtin_problem(row.fields.get("gtin"))
        )
        plans.append(_Plan(row, Outcome(problem, warnings=_gtin_warnings(row.fields.get("gtin"))), owner))
    repository = ProductRepository(session)
    keyed = [plan for plan in plans if plan.outcome.problem is None]
    stored = await _Stored.find(repository, [(plan.owner.id, plan.row.fields) for plan in keyed])
    changeable = [name for name in REGISTERED if columns is None or name in columns]
    for plan in keyed:
        _plan(plan, stored, changeable, update)
    batch = Batch([plan.outcome for plan in plans])
    if batch.refused or dry_run:
        return batch
    if not await _write(repository, principal, batch, plans, codes, import_job):
        return batch
    batch.written = True
    return batch


def _plan(plan: _Plan, stored: _Stored, changeable: Sequence[str], update: bool) -> None:
    """Decide what one row does: register a product, change one, leave one as it is, or the problem."""
    fields, owner, outcome = plan.row.fields, plan.owner, plan.outcome
    target = _target(owner.id, fields, stored) if update else None
    outcome.problem = _taken(owner.id, fields, stored, target.id if target is not None else None)
    if outcome.problem is not None:
        return
    outcome.commune_code = owner.commune_code
    if target is None:
        plan.values = _new_values(fields, owner)
        outcome.record_id, outcome.action = plan.values["id"], "created"
        return
    values, plan.diff = _changed(target, {name: fields.get(name) for name in changeable})
    outcome.record_id, outcome.action = target.id, "updated" if plan.diff else "unchanged"
    plan.values = {"id": target.id, **values} if plan.diff else None
    plan.seen = target.updated_at


async def _write(
    repository: ProductRepository,
    principal: Principal,
    batch: Batch,
    plans: Sequence[_Plan],
    codes: CodeNumbers | None,
    job: uuid.UUID | None,
) -> bool:
    """Insert the new products with their codes, update the changed ones, record both.

    False (nothing written) if a product changed since it was checked or the reserved codes ran out.
    """
    new = [(plan, plan.values) for plan in plans if plan.outcome.action == "created" and plan.values]
    changed = [(plan, plan.values) for plan in plans if plan.outcome.action == "updated" and plan.values]
    stale = await repository.changed_since({values["id"]: plan.seen for plan, values in changed})
    if batch.refuse_changed(stale):
        return False
    if codes is None:
        counts = Counter(values["commune_code"] for _, values in new)
        codes = await reserve_codes(repository.session, counts=counts, year=clock.today().year)
    for plan, values in new:
        number = codes.take(values["commune_code"])
        if number is None:
            plan.outcome.problem = Conflict(
                f"More new products in commune {values['commune_code']} than were counted when the rows were checked."
            )
            return False
        values["product_code"] = product_code(
            values["province_code"], values["commune_code"], number, codes.year
        )
    await repository.insert_rows([values for _, values in new])
    await repository.update_rows(
        [values for _, values in changed], [name for name in changed[0][1] if name != "id"] if changed else []
    )
    await repository.record_changes(
        [
            _history(principal, values["id"], "registered", {"name": [None, values["name"]]}, job)
            for _, values in new
        ]
        + [_history(principal, values["id"], "updated", plan.diff, job) for plan, values in changed]
    )
    await events.emit_updated(repository.session, [values["id"] for _, values in [*new, *changed]])
    await catalogue_feed.publish_changes(
        repository.session, product_ids=[values["id"] for _, values in changed]
    )
    return True


async def register_product(
    session: AsyncSession, *, principal: Principal, data: ProductCreate
) -> tuple[Product, list[Warning]]:
    """Register a product of an entity the caller may edit; generates its product code."""
    row = ProductInput(data.model_dump(exclude={"entity_id"}), entity_id=data.entity_id)
    try:
        async with session.begin_nested():
            batch = await save_products(session, principal=principal, rows=[row])
            batch.raise_first()
    except IntegrityError as exc:  # a concurrent write took the name, external id or GTIN first
        raise ProductNameTaken("The entity already has a product with this name or GTIN") from exc
    outcome = batch.outcomes[0]
    # Written just now, in this transaction.
    return typing.cast(Product, await ProductRepository(session).get(outcome.record_id)), outcome.warnings


async def get_product(
    session: AsyncSession, *, principal: Principal, product_id: uuid.UUID, for_update: bool = False
) -> Product:
    """The product, if the caller may see it; otherwise ProductNotFound."""
    require_authenticated(principal)
    repository = ProductRepository(session)
    product = await (repository.get_for_update(product_id) if for_update else repository.get(product_id))
    if product is None or not policies.can_read(principal, place_of(product)):
        raise ProductNotFound(f"No product {product_id}")
    return product


async def snapshot(session: AsyncSession, *, principal: Principal, product_id: uuid.UUID) -> Snapshot:
    """The product with its entity, commune and province as of today, read in one statement."""
    require_authenticated(principal)
    today = clock.today()
    row = await ProductRepository(session).snapshot(product_id, today)
    if row is None or not policies.can_read(principal, place_of(row.Product)):
        raise ProductNotFound(f"No product {product_id}")
    fields = row._mapping

    def unit(level: str) -> UnitAsOf | None:
        values = {column: fields[f"{level}_{column}"] for column in UNIT_COLUMNS}
        return UnitAsOf(**values) if values["code"] is not None else None

    return Snapshot(today, row.Product, row.Entity, unit("commune"), unit("province"))


async def _editable(session: AsyncSession, *, principal: Principal, product_id: uuid.UUID) -> Product:
    product = await get_product(session, principal=principal, product_id=product_id, for_update=True)
    if not policies.can_edit(principal, place_of(product)):
        raise Forbidden("You may read this product but not change it.")
    return product


def _refuse_identity_change_in_place(principal: Principal, product: Product, changes: dict[str, Any]) -> None:
    """A certified product's identity changes only with an officer's approval (a change request)."""
    if principal.role is not Role.producer or product.status != "certified":
        return
    changed = [
        field for field in IDENTITY_FIELDS if field in changes and changes[field] != getattr(product, field)
    ]
    if changed:
        raise NeedsApproval(
            f"{', '.join(changed)} of a certified product change only with an officer's approval: "
            f"ask at /v1/products/{product.id}/change-requests",
            field=f"body.{changed[0]}",
            change_requests=f"/v1/products/{product.id}/change-requests",
        )


async def update_product(
    session: AsyncSession, *, principal: Principal, product_id: uuid.UUID, data: ProductUpdate
) -> tuple[Product, list[Warning]]:
    """Apply the given changes and record them in the history."""
    product = await _editable(session, principal=principal, product_id=product_id)
    changes = {
        k: v
        for k, v in data.model_dump(exclude_unset=True).items()
        if v is not None or k in ("name_en", "description", "story", "gtin", "external_id")
    }
    _refuse_identity_change_in_place(principal, product, changes)
    if (invalid := _gtin_problem(changes.get("gtin"))) is not None:
        raise invalid
    repository = ProductRepository(session)
    stored = await _Stored.find(repository, [(product.entity_id, changes)])
    if (taken := _taken(product.entity_id, changes, stored, product.id)) is not None:
        raise taken
    values, diff = _changed(product, changes)
    for name, value in values.items():
        if getattr(product, name) != value:
            setattr(product, name, value)
    if diff:
        await repository.record_change(product.id, *_actor(principal), "updated", diff)
    saved = await repository.save(product)
    if diff:
        await events.emit_updated(session, [product.id])
    await catalogue_feed.publish_changes(session, product_ids=[saved.id])
    return saved, _gtin_warnings(changes.get("gtin"))


async def list_products(
    session: AsyncSession, *, principal: Principal, limit: int, cursor: str | None, filters: dict[str, Any]
) -> KeysetPage[Product]:
    """A page of the products the caller may see."""
    require_authenticated(principal)
    return await ProductRepository(session).list(
        policies.visibility(principal),
        limit=limit,
        after=decode_cursor(cursor, str, uuid.UUID),
        filters=filters,
    )


async def advance_status(
    session: AsyncSession, *, product: Product, new_status: str, actor: Principal, note: str | None = None
) -> Product:
    """Move a product along the cycle; an illegal move is a 409 naming the current state."""
    if new_status not in TRANSITIONS[product.status]:
        raise IllegalTransition(
            f"A product in state {product.status!r} cannot move to {new_status!r}",
            current_state=product.status,
            allowed=sorted(TRANSITIONS[product.status]),
        )
    old = product.status
    product.status = new_status
    changes: dict[str, Any] = {"status": [old, new_status]}
    if note:
        changes["note"] = note
    repository = ProductRepository(session)
    await repository.record_change(product.id, *_actor(actor), "status_changed", changes)
    saved = await repository.save(product)
    await events.emit_updated(session, [product.id])
    await catalogue_feed.publish_changes(session, product_ids=[saved.id])
    return saved


async def change_status(
    session: AsyncSession, *, principal: Principal, product_id: uuid.UUID, new_status: str
) -> Product:
    """A caller-requested status change: producers only on their side of the cycle."""
    product = await _editable(session, principal=principal, product_id=product_id)
    # An illegal move stays a 409 (naming the state) for everyone; a legal one may still be an officer's.
    producer_may = (product.status, new_status) in PRODUCER_TRANSITIONS
    if principal.role is Role.producer and not producer_may and new_status in TRANSITIONS[product.status]:
        raise Forbidden(
            f"Moving a product from {product.status!r} to {new_status!r} is an officer's decision."
        )
    return await advance_status(session, product=product, new_status=new_status, actor=principal)


def require_certifier(actor: Principal) -> None:
    """Certificates are written by the scoring service (and admins): 401 without a token, else 403."""
    require_authenticated(actor)
    if not policies.can_write_certification(actor):
        raise Forbidden("Only the scoring service writes certificates.")


async def apply_certificate_event(session: AsyncSession, *, envelope: Envelope) -> None:
    """Apply a ``scoring.certificate.*`` event (the inbox has claimed its id in this transaction)."""
    fields = {name: envelope.data[name] for name in CertificationIn.model_fields if name in envelope.data}
    try:
        certificate = CertificationIn.model_validate(fields)
    except ValidationError as exc:
        raise CertificateEventInvalid(
            f"Event {envelope.id} ({envelope.type}) carries an invalid certificate",
            errors=[
                {"field": ".".join(["data", *map(str, e["loc"])]), "message": e["msg"]} for e in exc.errors()
            ],
        ) from exc
    actor = Principal(sub=f"service:{envelope.source}", role=Role.service)
    await apply_certification(session, certificate=certificate, actor=actor)


def _valid_expiry(certificate: CertificationIn) -> date:
    """Check the star, level, criteria version and dates of a certificate; its expiry date."""
    # Who may issue it is the procedure in force on the day; how long it lasts, its criteria version's.
    in_force = certificates.version_in_force(certificate.issued_on)
    version = in_force
    if certificate.criteria_version is not None:
        version = certificates.VERSIONS[certificate.criteria_version]
        if certificate.issued_on < version.in_force_from:
            raise InvalidField(
                "data.criteria_version",
                f"{version.code} came into force on {version.in_force_from}, after issued_on",
            )
    levels = certificates.certifying_levels(certificate.ocop_star, in_force)
    if certificate.level not in levels:
        regime = in_force.code if in_force else "the provincial programmes before 1048"
        raise InvalidField(
            "data.level",
            f"a {certificate.ocop_star}★ certificate is issued at the {' or '.join(sorted(levels))} level"
            f" (under {regime}), not {certificate.level}",
            code="level_mismatch",
        )
    expires_on = certificates.expiry(certificate.issued_on, version)
    if certificate.expires_on is not None and certificate.expires_on != expires_on:
        raise InvalidField(
            "data.expires_on",
            f"must be {expires_on}: {version.validity_months if version else certificates.DEFAULT_VALIDITY_MONTHS}"
            " months after issued_on",
            code="validity",
        )
    if (certificate.status == "revoked") != (certificate.revocation_ground is not None):
        raise InvalidField(
            "data.revocation_ground",
            "required when the status is revoked"
            if certificate.status == "revoked"
            else "only with status revoked",
        )
    return expires_on


async def apply_certification(
    session: AsyncSession, *, certificate: CertificationIn, actor: Principal
) -> Product:
    """The one writer of certificates and of products' star and certificate fields (scoring's events; the demo)."""
    require_certifier(actor)
    expires_on = _valid_expiry(certificate)
    repository = ProductRepository(session)
    product = await repository.get_for_update(certificate.product_id)
    if product is None:
        raise ProductNotFound(f"No product {certificate.product_id}", field="data.product_id")
    facts: dict[str, Any] = {
        "ocop_star": certificate.ocop_star, "certificate_number": certificate.certificate_number,
        "certificate_issued_on": certificate.issued_on, "certificate_expires_on": expires_on,
        "certificate_level": certificate.level, "certificate_status": certificate.status,
        "certificate_authority": certificate.issuing_authority,
        "certificate_decision_number": certificate.decision_number,
        "certificate_revocation_ground": certificate.revocation_ground,
    }  # fmt: skip
    record = await repository.claim_certificate(
        {"product_id": product.id, "issuing_authority": certificate.issuing_authority,
         "certificate_number": certificate.certificate_number, "decision_number": certificate.decision_number,
         "criteria_version": certificate.criteria_version, "ocop_star": certificate.ocop_star,
         "level": certificate.level, "issued_on": certificate.issued_on, "expires_on": expires_on,
         "status": certificate.status, "revocation_ground": certificate.revocation_ground}
    )  # fmt: skip
    if record.product_id != product.id:
        raise CertificateNumberTaken(
            f"{certificate.issuing_authority} gave certificate {certificate.certificate_number} to another product",
            field="data.certificate_number",
        )
    recorded = (record.ocop_star, record.level, record.issued_on, record.expires_on)
    if recorded != (certificate.ocop_star, certificate.level, certificate.issued_on, expires_on):
        raise CertificateFactsDiffer(
            f"Certificate {certificate.certificate_number} of {certificate.issuing_authority} was recorded as"
            f" {record.ocop_star}★ at the {record.level} level, issued {record.issued_on}, expiring {record.expires_on}",
            field="data.certificate_number",
        )
    if certificates.STATUS_ORDER[certificate.status] < certificates.STATUS_ORDER[record.status]:
        return product  # a late event: this certificate has moved on since
    record.status, record.revocation_ground = certificate.status, certificate.revocation_ground
    record.criteria_version = record.criteria_version or certificate.criteria_version
    # The latest decision about the certificate (recognition, then perhaps revocation) is kept.
    record.decision_number = certificate.decision_number or record.decision_number
    facts["certificate_decision_number"] = record.decision_number
    carries = (product.certificate_authority, product.certificate_number) == (
        certificate.issuing_authority, certificate.certificate_number
    )  # fmt: skip
    if certificate.status == "active":
        # Events arrive at least once and maybe out of order: an older certificate never replaces a newer one.
        if (
            not carries
            and product.certificate_issued_on
            and certificate.issued_on < product.certificate_issued_on
        ):
            return product
        status = "certified"
    elif product.certificate_number is not None and not carries:
        return product  # an event about a certificate this product no longer carries
    else:
        # Expiring certificates are still valid; superseded ones are followed by their successor.
        status = "certified" if certificate.status in ("expiring", "superseded") else "lapsed"
    fields = facts | {"status": status}
    diff = {
        k: [_jsonable(getattr(product, k)), _jsonable(v)]
        for k, v in fields.items()
        if getattr(product, k) != v
    }
    if not diff:
        return product  # a duplicate delivery changes nothing
    for field, value in fields.items():
        setattr(product, field, value)
    await repository.record_change(product.id, *_actor(actor), f"certificate_{certificate.status}", diff)
    saved = await repository.save(product)
    await events.emit_updated(session, [product.id])
    await catalogue_feed.publish_changes(session, product_ids=[saved.id])
    return saved


async def history(
    session: AsyncSession, *, principal: Principal, product_id: uuid.UUID
) -> list[ProductChange]:
    """Who changed what and when."""
    product = await get_product(session, principal=principal, product_id=product_id)
    return await ProductRepository(session).history(product.id)


async def add_image(
    session: AsyncSession, *, principal: Principal, product_id: uuid.UUID, data: bytes
) -> Product:
    """Store an uploaded image by its content hash and attach it to the product."""
    product = await _editable(session, principal=principal, product_id=product_id)
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageTooLarge(f"Images are limited to {MAX_IMAGE_BYTES // (1024 * 1024)} MiB", field="file")
    content_type = images.image_type(data)
    if content_type is None:
        raise UnsupportedImageType("Upload a JPEG, PNG or WebP image", field="file")
    digest = hashlib.sha256(data).hexdigest()
    if any(image.get("sha256") == digest for image in product.images):
        return product
    if len(product.images) >= MAX_IMAGES:
        raise InvalidField("file", f"a product has at most {MAX_IMAGES} images")
    repository = ProductRepository(session)
    await repository.store_media(digest, content_type, data)
    image = {
        "url": f"/v1/products/{product.id}/images/{digest}",
        "sha256": digest,
        "content_type": content_type,
        "size": len(data),
    }
    product.images = [*product.images, image]
    await repository.record_change(product.id, *_actor(principal), "image_added", {"images": [None, digest]})
    saved = await repository.save(product)
    await events.emit_updated(session, [product.id])
    await catalogue_feed.publish_changes(session, product_ids=[saved.id])
    return saved


async def read_image(
    session: AsyncSession, *, principal: Principal, product_id: uuid.UUID, sha256: str
) -> tuple[Media, bool]:
    """An image of a product the caller may see, and whether it is public (the product is in the catalogue)."""
    product = await ProductRepository(session).get(product_id)
    if product is None or not (is_public(product) or policies.can_read(principal, place_of(product))):
        raise ProductNotFound(f"No product {product_id}")
    media = (
        await ProductRepository(session).get_media(sha256)
        if any(i.get("sha256") == sha256 for i in product.images)
        else None
    )
    if media is None:
        raise ImageNotFound(f"Product {product_id} has no image {sha256}")
    return media, is_public(product)


async def record_change(
    session: AsyncSession, *, product_id: uuid.UUID, actor: Principal, action: str, changes: dict[str, Any]
) -> None:
    """Append one entry to a product's history (the cycle's reviews are part of it)."""
    await ProductRepository(session).record_change(product_id, *_actor(actor), action, changes)


async def advance_if_in(
    session: AsyncSession, *, product_id: uuid.UUID, source: str, target: str, actor: Principal, note: str
) -> Product | None:
    """Move a product from ``source`` to ``target`` if it is still in ``source`` (row-locked); else None."""
    product = await ProductRepository(session).get_for_update(product_id)
    if product is None or product.status != source:
        return None
    return await advance_status(session, product=product, new_status=target, actor=actor, note=note)


# Export


async def export(
    session: AsyncSession, *, database: Database, principal: Principal, file_format: FileFormat
) -> exports.Exported:
    """The products the caller may see, as a file that imports back unchanged (staff only)."""
    return await exports.export(
        PRODUCT_FILE,
        _export_rows,
        session=session,
        database=database,
        principal=principal,
        file_format=file_format,
    )


def _export_rows(session: AsyncSession, visible: Visibility) -> exports.Batches:
    return ProductRepository(session).stream(visible, PRODUCT_FILE.columns, exports.EXPORT_BATCH_ROWS)


# Snapshots resent on request (a subscriber that starts with an empty copy)

RESEND_PAGE = 1_000


async def resend_snapshots(session: AsyncSession, *, envelope: Envelope) -> None:
    """Answer a ``<service>.snapshot.requested``: every entity, then every product, to the asker only.

    The asker is the event's (signature-checked) source, one of the registry's subscribers; entities go
    first so that a product never arrives before its producer.
    """
    destination = envelope.source
    entities = await entity_service.resend_snapshots(session, destination=destination)
    repository = ProductRepository(session)
    products, after = 0, None
    while ids := await repository.ids_locked_after(after, RESEND_PAGE):
        await events.emit_updated(session, ids, destination=destination)
        products, after = products + len(ids), ids[-1]
    LOG.info("snapshots resent to %s: %d entities, %d products", destination, entities, products)
