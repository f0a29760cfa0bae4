"""Safe retries for POSTs: the first response to an ``Idempotency-Key`` is stored and replayed.

The key row is inserted in the request's own transaction before the work is done, so concurrent
retries wait on its unique index and then replay the committed answer; a rolled-back attempt
leaves no key behind and may be retried.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select, update
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP, insert
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from shared.db import SessionDep, schema_metadata
from shared.errors import ProblemError
from shared.security.dependencies import PrincipalDep
from shared.security.principal import Principal

IDEMPOTENCY_TABLE = "idempotency_key"
T = TypeVar("T")


def idempotency_table(metadata: MetaData) -> Table:
    """The table of remembered responses, in the calling service's own schema."""
    return Table(
        IDEMPOTENCY_TABLE,
        metadata,
        Column("principal", String(200), primary_key=True),
        Column("key", String(200), primary_key=True),
        Column("method", String(10), nullable=False),
        Column("path", String(500), nullable=False),
        Column("request_hash", String(64), nullable=False),
        Column("status_code", Integer),
        Column("body", JSONB),
        Column("headers", JSONB),
        Column("created_at", TIMESTAMP(timezone=True), server_default=func.now(), nullable=False),
    )


def create_idempotency_table(op: Any, schema: str) -> None:
    """Create the table in a migration (``op`` is alembic's), named as ``idempotency_table`` declares it."""
    table = idempotency_table(schema_metadata(schema))
    table.metadata.create_all(op.get_bind(), tables=[table])


class IdempotencyKeyReused(ProblemError):
    """The key was already used for a different request."""

    status = 422
    type = "idempotency-key-reused"
    title = "Idempotency key reused with a different request"


class Idempotency:
    """The current request's key (if any) and what was stored under it."""

    def __init__(
        self, table: Table, session: AsyncSession, principal: Principal, key: str | None, request_hash: str,
        method: str, path: str,
    ) -> None:  # fmt: skip
        self.table = table
        self.session = session
        self.owner = f"{principal.role.value}:{principal.sub}:{principal.scope or ''}"
        self.key = key
        self.request_hash = request_hash
        self.method = method
        self.path = path

    async def replay(self) -> Response | None:
        """The stored response of an earlier identical request, or None (then do the work and ``store``)."""
        if self.key is None:
            return None
        claimed = await self.session.execute(
            insert(self.table)
            .values(
                principal=self.owner,
                key=self.key,
                method=self.method,
                path=self.path,
                request_hash=self.request_hash,
            )
            .on_conflict_do_nothing()
            .returning(self.table.c.key)
        )
        if claimed.first() is not None:
            return None
        row = (
            await self.session.execute(
                select(self.table).where(self.table.c.principal == self.owner, self.table.c.key == self.key)
            )
        ).one()
        if row.request_hash != self.request_hash or row.status_code is None:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used for another request; use a new key for a new request.",
                field="header.idempotency-key",
            )
        headers = dict(row.headers or {}) | {"Idempotent-Replayed": "true"}
        return Response(
            orjson.dumps(row.body), row.status_code, headers=headers, media_type="application/json"
        )

    async def create(
        self, response: Response, make: Callable[[], Awaitable[T]], *, location: Callable[[T], str]
    ) -> T | Response:
        """A creating POST in one call: replay an earlier answer to this key, or ``make`` and remember 201."""
        if (replayed := await self.replay()) is not None:
            return replayed
        body = await make()
        return await self.created(response, body, location(body))

    async def created(self, response: Response, body: T, location: str) -> T:
        """Answer 201 with ``Location`` and remember that answer for retries with the same key."""
        response.headers["Location"] = location
        await self.store(201, body, {"Location": location})
        return body

    async def store(self, status_code: int, body: Any, headers: dict[str, str] | None = None) -> None:
        """Remember the response (in the same transaction as the work it describes)."""
        if self.key is None:
            return
        await self.session.execute(
            update(self.table)
            .where(self.table.c.principal == self.owner, self.table.c.key == self.key)
            .values(status_code=status_code, body=jsonable_encoder(body), headers=headers or {})
        )


def idempotency_dependency(table: Table) -> Any:
    """A dependency giving routes an ``Idempotency`` bound to ``table``."""

    async def dependency(
        request: Request,
        session: SessionDep,
        principal: PrincipalDep,
        idempotency_key: Annotated[
            str | None,
            Header(
                min_length=8, max_length=200, pattern=r"^[A-Za-z0-9._:\-]+$",
                description="Makes a retry safe: the first response to this key is replayed",
            ),
        ] = None,
    ) -> Idempotency:  # fmt: skip
        body = await request.body()
        digest = hashlib.sha256(request.method.encode() + b" " + request.url.path.encode() + b"\n" + body)
        return Idempotency(
            table, session, principal, idempotency_key, digest.hexdigest(), request.method, request.url.path
        )

    return Depends(dependency)
