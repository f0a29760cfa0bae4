"""The only module that imports python-jose; it enforces the rules of STYLE-ANCHORS §7."""

from __future__ import annotations

import time
import uuid
from typing import Any

from jose import JWTError, jwk, jwt
from pydantic import ValidationError

from shared.security.principal import Principal

ALGORITHM = "RS256"
MAX_TOKEN_BYTES = 8 * 1024
LEEWAY_S = 30
REQUIRED_CLAIMS = ("exp", "iat", "sub", "iss", "aud")


class InvalidToken(Exception):
    """The token is malformed, forged, expired or meant for someone else."""


class TokenVerifier:
    """Verify RS256 tokens against a fixed allow-list of public keys by ``kid``."""

    def __init__(self, public_keys: dict[str, dict[str, Any]], *, issuer: str, audience: str) -> None:
        self._keys = {kid: jwk.construct(key, ALGORITHM) for kid, key in public_keys.items()}
        self.issuer = issuer
        self.audience = audience

    def verify(self, token: str) -> Principal:
        """Return the principal of a valid token or raise ``InvalidToken``."""
        if len(token) > MAX_TOKEN_BYTES:
            raise InvalidToken("token too large")
        try:
            header = jwt.get_unverified_header(token)
        except JWTError as exc:
            raise InvalidToken("malformed token") from exc
        # The kid only selects among our own keys; jku/x5u in the header are never followed.
        key = self._keys.get(str(header.get("kid")))
        if key is None or header.get("alg") != ALGORITHM:
            raise InvalidToken("unknown key or algorithm")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={f"require_{claim}": True for claim in REQUIRED_CLAIMS} | {"leeway": LEEWAY_S},
            )
        except JWTError as exc:
            raise InvalidToken(str(exc)) from exc
        if not claims.get("aud"):
            raise InvalidToken("audience missing")
        try:
            return Principal.model_validate(claims)
        except ValidationError as exc:
            raise InvalidToken("claims do not describe a principal") from exc


class TokenSigner:
    """Sign short-lived RS256 tokens with one private key (the gateway's issuer; tests)."""

    def __init__(self, private_key_pem: str, *, kid: str, issuer: str) -> None:
        # Parsed once: parsing (and checking) an RSA private key per token costs ~70 ms of CPU.
        self._key = jwk.construct(private_key_pem, ALGORITHM)
        self.kid = kid
        self.issuer = issuer

    def sign(self, principal: Principal, *, audience: str, ttl_s: int = 900) -> str:
        """Issue a token for ``principal`` valid for ``ttl_s`` seconds (15 minutes at most by default)."""
        now = int(time.time())
        claims = principal.model_dump(mode="json", exclude_none=True) | {
            "iss": self.issuer,
            "aud": audience,
            "iat": now,
            "exp": now + ttl_s,
            "jti": uuid.uuid4().hex,
        }
        return str(jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self.kid}))


def public_jwk(public_key_pem: str, kid: str) -> dict[str, Any]:
    """Express a PEM public key as a JWK (for JWKS documents and verifier configuration)."""
    key = jwk.construct(public_key_pem, ALGORITHM).to_dict()
    return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in key.items()} | {
        "kid": kid,
        "use": "sig",
        "alg": ALGORITHM,
    }
