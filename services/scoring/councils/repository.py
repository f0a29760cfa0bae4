"""Every SQL statement on councils, council members and rounds."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from services.scoring.councils.models import Council, CouncilMember, Round
from shared.pagination import KeysetPage
from shared.repository import Repository
from shared.security.scopes import Visibility, visible_condition

SCORING_ROLES = ("chair", "member")


class CouncilRepository(Repository[Council]):
    """Reads and writes councils within the caller's transaction."""

    model = Council

    async def list(
        self,
        visible: Visibility,
        *,
        level: str | None,
        province_code: str | None,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
    ) -> KeysetPage[Council]:
        """A page of the councils ``visible`` admits, oldest first."""
        query = select(Council).where(
            visible_condition(visible, province=Council.province_code, council=Council.id)
        )
        if level is not None:
            query = query.where(Council.level == level)
        if province_code is not None:
            query = query.where(Council.province_code == province_code)
        return await self.paginate(query, keys=(Council.created_at, Council.id), after=after, limit=limit)


class MemberRepository(Repository[CouncilMember]):
    """Reads and writes council members within the caller's transaction."""

    model = CouncilMember

    async def of_council(self, council_id: uuid.UUID) -> Sequence[CouncilMember]:
        """Every member of a council, chair first, then by name."""
        query = (
            select(CouncilMember)
            .where(CouncilMember.council_id == council_id)
            .order_by((CouncilMember.role != "chair"), CouncilMember.full_name, CouncilMember.id)
        )
        return (await self.session.scalars(query)).all()

    async def by_sub(self, council_id: uuid.UUID, sub: str) -> CouncilMember | None:
        """The member of a council with this subject, if any."""
        return await self.session.scalar(
            select(CouncilMember).where(CouncilMember.council_id == council_id, CouncilMember.sub == sub)
        )

    async def chair(self, council_id: uuid.UUID) -> CouncilMember | None:
        """The council's chair, if it has one."""
        return await self.session.scalar(
            select(CouncilMember).where(CouncilMember.council_id == council_id, CouncilMember.role == "chair")
        )

    async def scoring(self, council_id: uuid.UUID) -> Sequence[CouncilMember]:
        """The members who score (chair and members; secretaries do not)."""
        query = select(CouncilMember).where(
            CouncilMember.council_id == council_id, CouncilMember.role.in_(SCORING_ROLES)
        )
        return (await self.session.scalars(query.order_by(CouncilMember.id))).all()


class RoundRepository(Repository[Round]):
    """Reads and writes rounds within the caller's transaction."""

    model = Round

    async def list(
        self,
        visible: Visibility,
        *,
        council_id: uuid.UUID | None,
        status: str | None,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
    ) -> KeysetPage[Round]:
        """A page of the rounds ``visible`` admits, oldest first."""
        query = select(Round).where(
            visible_condition(visible, province=Round.province_code, council=Round.council_id)
        )
        if council_id is not None:
            query = query.where(Round.council_id == council_id)
        if status is not None:
            query = query.where(Round.status == status)
        return await self.paginate(query, keys=(Round.created_at, Round.id), after=after, limit=limit)
