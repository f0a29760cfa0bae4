"""The request's principal: verified from a Bearer token, anonymous without one."""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import Depends, Request

from shared.config import BaseServiceSettings
from shared.errors import ProblemError
from shared.security.jwt import InvalidToken, TokenVerifier
from shared.security.principal import ANONYMOUS, Principal, Role

logger = logging.getLogger("shared.security")


class Unauthenticated(ProblemError):
    """A token was presented but is not valid."""

    status = 401
    type = "unauthenticated"
    title = "Unauthenticated"

    def __init__(self, detail: str = "The bearer token is missing, malformed, expired or not ours.") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class Forbidden(ProblemError):
    """The caller is known but may not do this."""

    status = 403
    type = "forbidden"
    title = "Forbidden"


def build_verifier(settings: BaseServiceSettings) -> TokenVerifier | None:
    """A verifier for the configured public keys, or None when none are configured."""
    if not settings.jwt_public_keys:
        return None
    document: dict[str, Any] = json.loads(settings.jwt_public_keys)
    keys = {str(key["kid"]): key for key in document.get("keys", [])}
    return TokenVerifier(keys, issuer=settings.jwt_issuer, audience=settings.jwt_audience)


async def get_principal(request: Request) -> Principal:
    """Anonymous without an Authorization header; the token's principal when it verifies; else 401."""
    header = request.headers.get("authorization")
    if not header:
        return ANONYMOUS
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Use 'Authorization: Bearer <token>'.")
    verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
    if verifier is None:
        raise Unauthenticated("This service accepts no tokens: no public keys are configured.")
    try:
        return verifier.verify(token.strip())
    except InvalidToken as exc:
        logger.info("token rejected: %s", exc)
        raise Unauthenticated from exc


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_authenticated(principal: Principal) -> Principal:
    """Refuse anonymous callers with a 401."""
    if principal.role is Role.anonymous:
        raise Unauthenticated("This operation needs a bearer token.")
    return principal
