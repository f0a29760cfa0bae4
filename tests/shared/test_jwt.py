"""The JWT rules of STYLE-ANCHORS §7, each as a regression test against a forged token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest

from shared.security.jwt import MAX_TOKEN_BYTES, InvalidToken, TokenSigner, TokenVerifier, public_jwk
from shared.security.principal import Principal, Role
from tests.support.keys import rsa_pair

ISSUER = "https://ocop.test/issuer"
AUDIENCE = "ocop-registry"
PRODUCER = Principal(sub="user-1", role=Role.producer, scope="entity-7")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, object], claims: dict[str, object]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": "user-1", "role": "producer", "scope": "entity-7",
        "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300,
    }  # fmt: skip
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.fixture(scope="module")
def signer() -> TokenSigner:
    private, _ = rsa_pair()
    return TokenSigner(private, kid="k1", issuer=ISSUER)


@pytest.fixture(scope="module")
def verifier() -> TokenVerifier:
    _, public = rsa_pair()
    return TokenVerifier({"k1": public_jwk(public, "k1")}, issuer=ISSUER, audience=AUDIENCE)


def _sign_raw(signer: TokenSigner, claims: dict[str, object], kid: str = "k1") -> str:
    from jose import jwt

    return str(jwt.encode(claims, signer._key, algorithm="RS256", headers={"kid": kid}))


def test_valid_token_gives_the_principal(signer: TokenSigner, verifier: TokenVerifier) -> None:
    assert verifier.verify(signer.sign(PRODUCER, audience=AUDIENCE)) == PRODUCER


def test_alg_none_is_rejected(verifier: TokenVerifier) -> None:
    token = _unsigned({"alg": "none", "kid": "k1", "typ": "JWT"}, _claims()) + "."
    with pytest.raises(InvalidToken):
        verifier.verify(token)


def test_hs256_signed_with_the_public_key_is_rejected(verifier: TokenVerifier) -> None:
    _, public = rsa_pair()
    signing_input = _unsigned({"alg": "HS256", "kid": "k1", "typ": "JWT"}, _claims())
    signature = hmac.new(public.encode(), signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(InvalidToken):
        verifier.verify(f"{signing_input}.{_b64(signature)}")


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "iss", "aud"])
def test_missing_required_claim_is_rejected(
    signer: TokenSigner, verifier: TokenVerifier, missing: str
) -> None:
    with pytest.raises(InvalidToken):
        verifier.verify(_sign_raw(signer, _claims(**{missing: None})))


@pytest.mark.parametrize(("claim", "value"), [("aud", "ocop-stamps"), ("iss", "https://evil.test")])
def test_wrong_audience_or_issuer_is_rejected(
    signer: TokenSigner, verifier: TokenVerifier, claim: str, value: str
) -> None:
    with pytest.raises(InvalidToken):
        verifier.verify(_sign_raw(signer, _claims(**{claim: value})))


def test_expired_token_is_rejected(signer: TokenSigner, verifier: TokenVerifier) -> None:
    past = int(time.time()) - 3600
    with pytest.raises(InvalidToken):
        verifier.verify(_sign_raw(signer, _claims(iat=past - 60, exp=past)))


def test_unknown_kid_is_rejected(signer: TokenSigner, verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken):
        verifier.verify(_sign_raw(signer, _claims(), kid="k2"))


def test_token_signed_by_another_key_is_rejected(verifier: TokenVerifier) -> None:
    other_private, _ = rsa_pair("attacker")
    forged = TokenSigner(other_private, kid="k1", issuer=ISSUER).sign(PRODUCER, audience=AUDIENCE)
    with pytest.raises(InvalidToken):
        verifier.verify(forged)


def test_oversized_token_is_rejected_before_parsing(verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken, match="too large"):
        verifier.verify("a" * (MAX_TOKEN_BYTES + 1))


def test_unknown_role_is_rejected(signer: TokenSigner, verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken):
        verifier.verify(_sign_raw(signer, _claims(role="superuser")))
