"""Council and round rules: who sets them up, who sits on them, which rounds are open.

A province's councils and rounds are managed by its province officers (and admins); the central
council and its rounds by admins only. A council member reads their own council and its rounds;
anyone else who may not see a council is told it does not exist. Every change is audited.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import policies
from services.scoring.audit import service as audit
from services.scoring.councils.errors import (
    ChairTaken,
    CouncilInactive,
    CouncilNotFound,
    MemberExists,
    RoundClosed,
    RoundNotFound,
)  # fmt: skip
from services.scoring.councils.models import LIVE_LEVELS, Council, CouncilMember, Round
from services.scoring.councils.repository import CouncilRepository, MemberRepository, RoundRepository
from services.scoring.councils.schemas import CouncilCreate, CouncilUpdate, MemberCreate, RoundCreate
from shared import clock
from shared.errors import InvalidField
from shared.pagination import KeysetPage, decode_cursor
from shared.security.dependencies import Forbidden, require_authenticated
from shared.security.principal import Principal
from shared.security.scopes import Place


def place_of_council(council: Council) -> Place:
    """Where a council belongs: its province (none for the central one) and itself."""
    return Place(None, None, council.province_code, council.id)


def place_of_round(round_: Round) -> Place:
    """Where a round belongs: its council's province and its council."""
    return Place(None, None, round_.province_code, round_.council_id)


def _may_manage(principal: Principal, record: Council | Round) -> bool:
    return policies.can_manage_council(principal, level=record.level, province_code=record.province_code)


# Councils


def _check_level(level: str, province_code: str | None) -> None:
    if level == "province" and province_code is None:
        raise InvalidField("body.province_code", "a province council needs its province's code")
    if level == "central" and province_code is not None:
        raise InvalidField("body.province_code", "the central council belongs to no province")


async def create_council(session: AsyncSession, *, principal: Principal, data: CouncilCreate) -> Council:
    """Set up a council: a province's (its officers, admins) or a central one (admins)."""
    require_authenticated(principal)
    _check_level(data.level, data.province_code)
    if not policies.can_manage_council(principal, level=data.level, province_code=data.province_code):
        raise Forbidden(
            "Province officers set up their own province's councils; central councils are set up by admins.",
            field="body.level" if data.level == "central" else "body.province_code",
        )
    council = await CouncilRepository(session).add(Council(**data.model_dump(), active=True))
    await _audit(session, principal, "council.created", council, data.model_dump(mode="json"))
    return council


async def get_council(
    session: AsyncSession, *, principal: Principal, council_id: uuid.UUID, field: str | None = None
) -> Council:
    """The council, if the caller may see it; otherwise CouncilNotFound."""
    require_authenticated(principal)
    council = await CouncilRepository(session).get(council_id)
    if council is None or not policies.can_read(principal, place_of_council(council)):
        extensions: dict[str, Any] = {"field": field} if field else {}
        raise CouncilNotFound(f"No council {council_id}", **extensions)
    return council


async def _managed_council(
    session: AsyncSession, principal: Principal, council_id: uuid.UUID, field: str | None = None
) -> Council:
    council = await get_council(session, principal=principal, council_id=council_id, field=field)
    if not _may_manage(principal, council):
        raise Forbidden("You may read this council but not manage it.")
    return council


async def list_councils(
    session: AsyncSession,
    *,
    principal: Principal,
    level: str | None,
    province_code: str | None,
    limit: int,
    cursor: str | None,
) -> KeysetPage[Council]:
    """A page of the councils the caller may see (a province's for its officers, their own for members)."""
    require_authenticated(principal)
    return await CouncilRepository(session).list(
        policies.visibility(principal), level=level, province_code=province_code, limit=limit,
        after=decode_cursor(cursor, datetime, uuid.UUID),
    )  # fmt: skip


async def update_council(
    session: AsyncSession, *, principal: Principal, council_id: uuid.UUID, data: CouncilUpdate
) -> Council:
    """Change a council's name, rules or activity (those who manage it)."""
    council = await _managed_council(session, principal, council_id)
    diff: dict[str, Any] = {}
    for field, value in data.model_dump(exclude_unset=True).items():
        if value is not None and getattr(council, field) != value:
            diff[field] = [str(getattr(council, field)), str(value)]
            setattr(council, field, value)
    if diff:
        await _audit(session, principal, "council.updated", council, diff)
    return await CouncilRepository(session).save(council)


# Members


async def add_member(
    session: AsyncSession, *, principal: Principal, council_id: uuid.UUID, data: MemberCreate
) -> CouncilMember:
    """Seat a person on a council by their principal's subject; one chair per council."""
    council = await _managed_council(session, principal, council_id)
    members = MemberRepository(session)
    if await members.by_sub(council.id, data.sub) is not None:
        raise MemberExists(f"{data.sub} is already a member of this council", field="body.sub")
    if data.role == "chair" and await members.chair(council.id) is not None:
        raise ChairTaken("This council already has a chair", field="body.role")
    try:
        async with session.begin_nested():
            member = await members.add(CouncilMember(council_id=council.id, **data.model_dump()))
    except IntegrityError as exc:  # a concurrent addition won the race for the subject or the chair
        raise MemberExists(
            f"{data.sub} could not be seated: another change came first", field="body.sub"
        ) from exc
    await _audit(session, principal, "council.member_added", council, data.model_dump(mode="json"))
    return member


async def list_members(
    session: AsyncSession, *, principal: Principal, council_id: uuid.UUID
) -> Sequence[CouncilMember]:
    """The members of a council the caller may see, chair first."""
    council = await get_council(session, principal=principal, council_id=council_id)
    return await MemberRepository(session).of_council(council.id)


async def scoring_members(session: AsyncSession, *, council_id: uuid.UUID) -> Sequence[CouncilMember]:
    """The members who score for a council: its chair and members (secretaries record, they do not score)."""
    return await MemberRepository(session).scoring(council_id)


async def member_by_sub(session: AsyncSession, *, council_id: uuid.UUID, sub: str) -> CouncilMember | None:
    """The member of a council with this principal subject, if any (the caller decides what it may do)."""
    return await MemberRepository(session).by_sub(council_id, sub)


# Rounds


async def create_round(session: AsyncSession, *, principal: Principal, data: RoundCreate) -> Round:
    """Open a round for a council (those who manage the council); the council must be active."""
    council = await _managed_council(session, principal, data.council_id, field="body.council_id")
    if council.level not in LIVE_LEVELS:
        raise InvalidField("body.council_id", f"{council.level} councils are history: they open no rounds")
    if not council.active:
        raise CouncilInactive("An inactive council opens no rounds", field="body.council_id")
    round_ = await RoundRepository(session).add(
        Round(
            council_id=council.id, level=council.level, province_code=council.province_code, name=data.name,
            cut_off=data.cut_off, status="open",
        )
    )  # fmt: skip
    await _audit(session, principal, "round.created", round_, data.model_dump(mode="json"))
    return round_


async def get_round(
    session: AsyncSession, *, principal: Principal, round_id: uuid.UUID, field: str | None = None
) -> Round:
    """The round, if the caller may see it; otherwise RoundNotFound."""
    require_authenticated(principal)
    round_ = await RoundRepository(session).get(round_id)
    if round_ is None or not policies.can_read(principal, place_of_round(round_)):
        extensions: dict[str, Any] = {"field": field} if field else {}
        raise RoundNotFound(f"No round {round_id}", **extensions)
    return round_


async def list_rounds(
    session: AsyncSession,
    *,
    principal: Principal,
    council_id: uuid.UUID | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> KeysetPage[Round]:
    """A page of the rounds the caller may see."""
    require_authenticated(principal)
    return await RoundRepository(session).list(
        policies.visibility(principal), council_id=council_id, status=status, limit=limit,
        after=decode_cursor(cursor, datetime, uuid.UUID),
    )  # fmt: skip


async def close_round(session: AsyncSession, *, principal: Principal, round_id: uuid.UUID) -> Round:
    """Close a round: nothing more is assigned to it or scored in it (unfinished dossiers are reassigned)."""
    require_authenticated(principal)
    round_ = await RoundRepository(session).get_for_update(round_id)
    if round_ is None or not policies.can_read(principal, place_of_round(round_)):
        raise RoundNotFound(f"No round {round_id}")
    if not _may_manage(principal, round_):
        raise Forbidden("You may read this round but not close it.")
    if round_.status != "open":
        raise RoundClosed(f"Round {round_id} is already closed", current_state=round_.status)
    round_.status = "closed"
    round_.closed_at = clock.now()
    await _audit(session, principal, "round.closed", round_, {"status": ["open", "closed"]})
    return await RoundRepository(session).save(round_)


async def assignable_round(
    session: AsyncSession, *, principal: Principal, round_id: uuid.UUID, level: str, province_code: str | None
) -> tuple[Round, Council]:
    """An open round of an active council at ``level`` (and of ``province_code`` for a province round),
    which the caller manages, locked against a concurrent close; refused naming ``body.round_id``."""
    await get_round(session, principal=principal, round_id=round_id, field="body.round_id")
    round_ = await RoundRepository(session).get_for_update(round_id)
    council = await CouncilRepository(session).get(round_.council_id) if round_ is not None else None
    if round_ is None or council is None:  # pragma: no cover - read just above, rounds are never deleted
        raise RoundNotFound(f"No round {round_id}", field="body.round_id")
    if not _may_manage(principal, round_):
        raise Forbidden(
            "Only those who manage the round's council assign dossiers to it.", field="body.round_id"
        )
    if round_.level != level:
        raise InvalidField(
            "body.round_id", f"the round is a {round_.level} round; this step needs a {level} one"
        )
    if level == "province" and round_.province_code != province_code:
        raise InvalidField("body.round_id", "the round belongs to another province's council")
    if round_.status != "open":
        raise RoundClosed(f"Round {round_id} is closed", field="body.round_id", current_state=round_.status)
    if not council.active:
        raise CouncilInactive("The round's council is inactive", field="body.round_id")
    return round_, council


async def round_and_council(session: AsyncSession, *, round_id: uuid.UUID) -> tuple[Round, Council]:
    """A round and its council, as stored (the caller has already decided the principal may act on them)."""
    round_ = await RoundRepository(session).get(round_id)
    if round_ is None:
        raise RoundNotFound(f"No round {round_id}")
    council = await CouncilRepository(session).get(round_.council_id)
    if council is None:  # pragma: no cover - a foreign key keeps them together
        raise CouncilNotFound(f"No council {round_.council_id}")
    return round_, council


# History (the demo loader's path): councils and rounds that decided before the platform existed


async def record_historical_council(
    session: AsyncSession,
    *,
    actor: Principal,
    name: str,
    level: str,
    province_code: str | None,
    members: Sequence[MemberCreate],
    active: bool,
) -> Council:
    """Record a council that decided in the past, with its members (a district's too, which no route sets up).

    The same rules as setting one up: a province's or district's council names its province, the
    central one none; one chair; members by distinct subjects. Audited as ``council.recorded``.
    """
    if level == "district" and province_code is None:
        raise InvalidField("province_code", "a district council needs its province's code")
    _check_level(level, province_code)
    if len({member.sub for member in members}) != len(members):
        raise MemberExists("a council's members have distinct subjects", field="members")
    if sum(member.role == "chair" for member in members) > 1:
        raise ChairTaken("a council has one chair", field="members")
    council = await CouncilRepository(session).add(
        Council(name=name, level=level, province_code=province_code, active=active)
    )
    repository = MemberRepository(session)
    for member in members:
        await repository.add(CouncilMember(council_id=council.id, **member.model_dump()))
    detail = {"name": name, "level": level, "province_code": province_code, "active": active,
              "members": [member.model_dump(mode="json") for member in members]}  # fmt: skip
    await _audit(session, actor, "council.recorded", council, detail)
    return council


async def record_historical_round(
    session: AsyncSession,
    *,
    actor: Principal,
    council_id: uuid.UUID,
    name: str,
    cut_off: date,
    closed_at: datetime,
) -> Round:
    """Record a round that was held and closed in the past (the loader's path; audited as ``round.recorded``)."""
    council = await CouncilRepository(session).get(council_id)
    if council is None:
        raise CouncilNotFound(f"No council {council_id}", field="council_id")
    if closed_at.date() < cut_off:
        raise InvalidField("closed_at", "a round closes after its cut-off date")
    round_ = await RoundRepository(session).add(
        Round(
            council_id=council.id, level=council.level, province_code=council.province_code, name=name,
            cut_off=cut_off, status="closed", closed_at=closed_at,
        )
    )  # fmt: skip
    detail = {"name": name, "cut_off": cut_off.isoformat(), "closed_at": closed_at.isoformat()}
    await _audit(session, actor, "round.recorded", round_, detail)
    return round_


async def _audit(
    session: AsyncSession, principal: Principal, action: str, record: Council | Round, detail: dict[str, Any]
) -> None:
    await audit.record(
        session, actor=principal, action=action, subject_type="council" if isinstance(record, Council) else "round",
        subject_id=record.id, province_code=record.province_code, detail=detail,
    )  # fmt: skip
