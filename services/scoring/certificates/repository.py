"""Every SQL statement on certificates and their number counters."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from services.scoring.certificates.models import Certificate, CertificateNumberCounter
from shared.pagination import KeysetPage
from shared.repository import Repository
from shared.security.scopes import Visibility, visible_condition

CURRENT = ("active", "expiring")
# The advisory lock key of the scheduled certificate job ("OCOPCERT" in ASCII).
JOB_LOCK = 0x4F434F5043455254


@dataclass(frozen=True)
class CertificateFilter:
    """What a listing is narrowed to (None: no narrowing)."""

    product_id: uuid.UUID | None = None
    status: str | None = None
    star: int | None = None


class CertificateRepository(Repository[Certificate]):
    """Reads and writes certificates within the caller's transaction."""

    model = Certificate

    async def by_ids(self, ids: Sequence[uuid.UUID]) -> Sequence[Certificate]:
        """The certificates with these ids, oldest issued first (a product's history in order)."""
        query = (
            select(Certificate).where(Certificate.id.in_(ids)).order_by(Certificate.issued_on, Certificate.id)
        )
        return (await self.session.scalars(query)).all()

    async def next_number(self, series: str, year: int) -> int:
        """The series' next sequence number in ``year`` (the counter row is locked until commit)."""
        statement = (
            insert(CertificateNumberCounter)
            .values(series=series, year=year, last=1)
            .on_conflict_do_update(
                index_elements=["series", "year"], set_={"last": CertificateNumberCounter.last + 1}
            )
            .returning(CertificateNumberCounter.last)
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def current_for_product(self, product_id: uuid.UUID) -> Sequence[Certificate]:
        """The product's certificates still in force (active or expiring), locked for a change."""
        query = (
            select(Certificate)
            .where(Certificate.product_id == product_id, Certificate.status.in_(CURRENT))
            .order_by(Certificate.issued_on)
            .with_for_update()
        )
        return (await self.session.scalars(query)).all()

    async def for_result(self, result_id: uuid.UUID) -> Certificate | None:
        """The certificate issued on a result, if any."""
        return await self.session.scalar(select(Certificate).where(Certificate.result_id == result_id))

    async def by_number(self, number: str) -> Sequence[Certificate]:
        """The certificate carrying this number (numbers are unique)."""
        query = select(Certificate).where(Certificate.number == number).order_by(Certificate.issued_on.desc())
        return (await self.session.scalars(query)).all()

    async def list(
        self,
        visible: Visibility,
        where: CertificateFilter,
        *,
        limit: int,
        after: tuple[date, uuid.UUID] | None,
    ) -> KeysetPage[Certificate]:
        """A page of the certificates ``visible`` admits, newest issue first."""
        query = select(Certificate).where(
            visible_condition(
                visible, entity=Certificate.entity_id, commune=Certificate.commune_code,
                province=Certificate.province_code,
            )
        )  # fmt: skip
        if where.product_id is not None:
            query = query.where(Certificate.product_id == where.product_id)
        if where.status is not None:
            query = query.where(Certificate.status == where.status)
        if where.star is not None:
            query = query.where(Certificate.star == where.star)
        return await self.paginate(
            query, keys=(Certificate.issued_on, Certificate.id), after=after, limit=limit, descending=True
        )

    async def mark_expiring(
        self, *, criteria_version: str, notice_days: int, today: date
    ) -> Sequence[Certificate]:
        """Active certificates of a version within their notice period become expiring."""
        statement = (
            update(Certificate)
            .where(
                Certificate.status == "active",
                Certificate.criteria_version == criteria_version,
                Certificate.expires_on <= today + timedelta(days=notice_days),
                Certificate.expires_on > today,
            )
            .values(**_moved_to("expiring", today))
            .returning(Certificate)
        )
        return (
            await self.session.scalars(
                statement, execution_options={"synchronize_session": False, "populate_existing": True}
            )
        ).all()

    async def mark_expired(self, *, today: date) -> Sequence[Certificate]:
        """Certificates in force whose validity has ended become expired."""
        statement = (
            update(Certificate)
            .where(Certificate.status.in_(CURRENT), Certificate.expires_on <= today)
            .values(**_moved_to("expired", today))
            .returning(Certificate)
        )
        return (
            await self.session.scalars(
                statement, execution_options={"synchronize_session": False, "populate_existing": True}
            )
        ).all()

    async def criteria_versions_in_force(self) -> Sequence[str]:
        """The criteria versions of the active certificates."""
        query = select(Certificate.criteria_version).where(Certificate.status == "active").distinct()
        return (await self.session.scalars(query)).all()

    async def take_job_lock(self) -> bool:
        """Whether this transaction holds the certificate job's advisory lock (released at its end)."""
        return bool(await self.session.scalar(select(func.pg_try_advisory_xact_lock(JOB_LOCK))))


def _moved_to(status: str, today: date) -> dict[str, object]:
    """The columns every status change sets: the status, its day, and a new version (its event carries it)."""
    return {"status": status, "status_changed_on": today, "version": Certificate.version + 1}
