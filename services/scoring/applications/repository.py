"""Every SQL statement on applications, attachments, self-assessments, scorecards and results."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from services.scoring.applications.models import (
    DECIDED_STATES,
    Application,
    Attachment,
    AttachmentBlob,
    Result,
    Scorecard,
    SelfAssessment,
)  # fmt: skip
from shared.pagination import KeysetPage
from shared.repository import Repository
from shared.security.scopes import Visibility, visible_condition


@dataclass(frozen=True)
class ApplicationFilter:
    """The optional filters of an application listing (None: no filter)."""

    status: str | None = None
    product_id: uuid.UUID | None = None
    round_id: uuid.UUID | None = None


class ApplicationRepository(Repository[Application]):
    """Reads and writes applications within the caller's transaction."""

    model = Application

    async def list(
        self,
        visible: Visibility,
        where: ApplicationFilter,
        *,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
    ) -> KeysetPage[Application]:
        """A page of the applications ``visible`` admits, newest first."""
        query = select(Application).where(
            visible_condition(
                visible, entity=Application.entity_id, commune=Application.commune_code,
                province=Application.province_code, council=Application.council_id,
            )
        )  # fmt: skip
        if where.status is not None:
            query = query.where(Application.status == where.status)
        if where.product_id is not None:
            query = query.where(Application.product_id == where.product_id)
        if where.round_id is not None:
            query = query.where(Application.round_id == where.round_id)
        return await self.paginate(
            query, keys=(Application.created_at, Application.id), after=after, limit=limit, descending=True
        )

    async def under_way_for_product(self, product_id: uuid.UUID) -> Application | None:
        """The product's application still under way (not holding a decision), if any."""
        return await self.session.scalar(
            select(Application).where(
                Application.product_id == product_id, Application.status.not_in(DECIDED_STATES)
            )
        )


class AttachmentRepository(Repository[Attachment]):
    """Reads and writes attachments and their stored bytes."""

    model = Attachment

    async def store_blob(self, sha256: str, content_type: str, data: bytes) -> None:
        """Keep the bytes once per content hash (a second upload of the same file stores nothing)."""
        await self.session.execute(
            insert(AttachmentBlob)
            .values(sha256=sha256, content_type=content_type, size=len(data), data=data)
            .on_conflict_do_nothing(index_elements=["sha256"])
        )

    async def blob(self, sha256: str) -> AttachmentBlob | None:
        """The stored bytes of a content hash."""
        return await self.session.get(AttachmentBlob, sha256)

    async def find(
        self, application_id: uuid.UUID, *, sha256: str, kind: str | None = None
    ) -> Attachment | None:
        """An attachment of the application with this content (and kind, when given)."""
        query = select(Attachment).where(
            Attachment.application_id == application_id, Attachment.sha256 == sha256
        )
        if kind is not None:
            query = query.where(Attachment.kind == kind)
        return (
            await self.session.scalars(query.order_by(Attachment.created_at, Attachment.id).limit(1))
        ).first()

    async def of_application(self, application_id: uuid.UUID) -> Sequence[Attachment]:
        """The application's attachments, oldest first."""
        query = select(Attachment).where(Attachment.application_id == application_id)
        return (await self.session.scalars(query.order_by(Attachment.created_at, Attachment.id))).all()


class SelfAssessmentRepository(Repository[SelfAssessment]):
    """Reads and writes self-assessments (one per application)."""

    model = SelfAssessment


class ScorecardRepository(Repository[Scorecard]):
    """Reads and writes scorecards."""

    model = Scorecard

    async def of_pass(self, application_id: uuid.UUID, pass_number: int) -> Sequence[Scorecard]:
        """The cards of one scoring pass."""
        query = select(Scorecard).where(
            Scorecard.application_id == application_id, Scorecard.pass_number == pass_number
        )
        return (await self.session.scalars(query.order_by(Scorecard.created_at, Scorecard.id))).all()

    async def count_of_pass(self, application_id: uuid.UUID, pass_number: int) -> int:
        """How many cards one scoring pass has."""
        query = select(func.count()).where(
            Scorecard.application_id == application_id, Scorecard.pass_number == pass_number
        )
        return int(await self.session.scalar(query) or 0)

    async def of_member(
        self, application_id: uuid.UUID, pass_number: int, member_id: uuid.UUID
    ) -> Scorecard | None:
        """A member's card of one pass, if submitted."""
        return await self.session.scalar(
            select(Scorecard).where(
                Scorecard.application_id == application_id, Scorecard.pass_number == pass_number,
                Scorecard.member_id == member_id,
            )
        )  # fmt: skip

    async def of_application(self, application_id: uuid.UUID) -> Sequence[Scorecard]:
        """Every card of an application, by pass."""
        query = select(Scorecard).where(Scorecard.application_id == application_id)
        return (
            await self.session.scalars(
                query.order_by(Scorecard.pass_number, Scorecard.created_at, Scorecard.id)
            )
        ).all()


class ResultRepository(Repository[Result]):
    """Reads and writes results (written once, never changed)."""

    model = Result

    async def of_application(self, application_id: uuid.UUID) -> Sequence[Result]:
        """An application's results, by pass."""
        query = select(Result).where(Result.application_id == application_id)
        return (await self.session.scalars(query.order_by(Result.pass_number))).all()

    async def latest(
        self, application_id: uuid.UUID, *, outcomes: Sequence[str], level: str | None = None
    ) -> Result | None:
        """The application's latest result with one of ``outcomes`` (at ``level``, when given)."""
        query = select(Result).where(Result.application_id == application_id, Result.outcome.in_(outcomes))
        if level is not None:
            query = query.where(Result.level == level)
        return await self.session.scalar(query.order_by(Result.pass_number.desc()).limit(1))
