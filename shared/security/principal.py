"""Who is calling: the only identity object handlers and policies ever see."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Role(StrEnum):
    """Roles of DESIGN.md; each scoped by the claim named in ``scope``."""

    admin = "admin"
    province_officer = "province_officer"
    commune_officer = "commune_officer"
    council_member = "council_member"
    producer = "producer"
    partner = "partner"
    national = "national"
    service = "service"
    anonymous = "anonymous"


class Principal(BaseModel):
    """A verified caller: subject, role and the unit / entity / client the role is scoped to."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    sub: str
    role: Role
    scope: str | None = None

    @property
    def is_anonymous(self) -> bool:
        """True for callers that presented no token."""
        return self.role is Role.anonymous


ANONYMOUS = Principal(sub="anonymous", role=Role.anonymous)
